"""Classical recovery-route searchers: Dijkstra and exhaustive enumeration.

Both take a :class:`~qnrecovery.interfaces.PathProblem`, drop the failed nodes
and links (a failed link drops every parallel edge between its two nodes),
collapse parallel edges to the fastest one, and look for the fastest route from
the source to any target. A route is feasible when its latency is within the
problem's budget. When no route is feasible the solution has
``feasible=False``, ``objective=inf`` and ``info["reason"]`` says why.

Examples
--------
>>> import networkx as nx
>>> from qnrecovery.classical.paths import DijkstraSearcher
>>> from qnrecovery.interfaces import PathProblem
>>> graph = nx.Graph()
>>> graph.add_edge("a", "b", latency_ms=2.0)
>>> graph.add_edge("b", "c", latency_ms=2.0)
>>> graph.add_edge("a", "c", latency_ms=9.0)
>>> DijkstraSearcher().search(PathProblem(graph, "a", ("c",))).path
('a', 'b', 'c')
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import time
from typing import Any

import networkx as nx

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PathProblem, PathSolution, link_key

__all__ = ["DijkstraSearcher", "ExhaustiveSearcher", "working_graph"]

logger = logging.getLogger(__name__)


def working_graph(
    problem: PathProblem, weight: str = "latency_ms"
) -> tuple[nx.Graph, int, int]:
    """The problem's graph without failures, parallel edges collapsed.

    Parameters
    ----------
    problem : PathProblem
    weight : str, default="latency_ms"
        Edge attribute kept; parallel edges keep their minimum.

    Returns
    -------
    graph : networkx.Graph
        Simple graph of the working nodes and links.
    nodes_removed : int
        Failed nodes that were in the graph.
    links_removed : int
        Node pairs whose edges were all dropped because the link failed.

    Raises
    ------
    ConfigError
        If an edge lacks the ``weight`` attribute.
    """
    failed_nodes = {n for n in problem.failed_nodes if n in problem.graph}
    graph = nx.Graph()
    graph.add_nodes_from(n for n in problem.graph.nodes if n not in failed_nodes)
    links_removed: set[frozenset[Any]] = set()
    for u, v, data in problem.graph.edges(data=True):
        if u in failed_nodes or v in failed_nodes:
            continue
        if link_key(u, v) in problem.failed_links:
            links_removed.add(link_key(u, v))
            continue
        if weight not in data:
            raise ConfigError(
                f"Edge ({u!r}, {v!r}) has no {weight!r} attribute, which the path "
                "searcher's `weight` names; add it or choose another weight."
            )
        value = float(data[weight])
        if not graph.has_edge(u, v) or value < graph[u][v][weight]:
            graph.add_edge(u, v, **{weight: value})
    return graph, len(failed_nodes), len(links_removed)


def _infeasible(reason: str, info: dict[str, Any]) -> PathSolution:
    info["reason"] = reason
    logger.info("No recovery route: %s", reason)
    return PathSolution(feasible=False, objective=math.inf, info=info)


def _live_targets(problem: PathProblem) -> list[Any]:
    return [t for t in dict.fromkeys(problem.targets) if t not in problem.failed_nodes]


def _trivial(problem: PathProblem, info: dict[str, Any]) -> PathSolution | None:
    """The answer when the source failed, every target failed, or the source is one."""
    if problem.source in problem.failed_nodes:
        return _infeasible("the source node has failed", info)
    if not _live_targets(problem):
        return _infeasible("every target node has failed", info)
    if problem.source in _live_targets(problem):
        path = (problem.source,)
        return PathSolution(
            feasible=True, objective=0.0, info=info, path=path, target=problem.source
        )
    return None


def _solution(
    problem: PathProblem, path: tuple[Any, ...], info: dict[str, Any]
) -> PathSolution:
    """Judge the fastest route found against the budget."""
    latency = problem.path_latency(path)
    if latency > problem.latency_budget_ms:
        info["best_latency_ms"] = latency
        return _infeasible(
            f"over budget: the fastest working route takes {latency:g} ms, more "
            f"than the budget of {problem.latency_budget_ms:g} ms",
            info,
        )
    return PathSolution(
        feasible=True, objective=latency, info=info, path=path, target=path[-1]
    )


class DijkstraSearcher:
    """Fastest route by multi-target Dijkstra on the working graph.

    Because Dijkstra finds the minimum-latency route, when that route is over
    the budget no other route is within it.

    Parameters
    ----------
    weight : str, default="latency_ms"
        Edge attribute to minimise. The solution's ``objective`` is always the
        route's latency in milliseconds.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``nodes_removed``, ``links_removed`` and
    ``explored`` (edges relaxed by the search), plus ``reason`` when infeasible.
    """

    def __init__(self, *, weight: str = "latency_ms") -> None:
        self.weight = weight

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight!r})"

    def search(self, problem: PathProblem) -> PathSolution:
        """Return the fastest feasible route of ``problem``.

        Raises
        ------
        ConfigError
            If the problem is malformed (unknown source or target, ...) or
            ``weight`` is not a string attribute present on every edge.
        """
        start = time.perf_counter()
        if not isinstance(self.weight, str):
            raise ConfigError(
                f"`weight` of `DijkstraSearcher` must be an edge attribute name "
                f"(str); got {self.weight!r}."
            )
        problem.validate()
        graph, nodes_removed, links_removed = working_graph(problem, self.weight)
        explored = 0

        def edge_weight(u: Any, v: Any, data: dict[str, Any]) -> float:
            nonlocal explored
            explored += 1
            return float(data[self.weight])

        info: dict[str, Any] = {
            "nodes_removed": nodes_removed,
            "links_removed": links_removed,
        }
        solution = _trivial(problem, info)
        if solution is None:
            try:
                # Search from the targets towards the source: the first target
                # settled on the way is the nearest one.
                _, reversed_path = nx.multi_source_dijkstra(
                    graph, _live_targets(problem), problem.source, weight=edge_weight
                )
            except nx.NetworkXNoPath:
                solution = _infeasible(
                    "disconnected: no working route from the source to any target",
                    info,
                )
            else:
                solution = _solution(problem, tuple(reversed(reversed_path)), info)
        info["explored"] = explored
        info["wall_time_s"] = time.perf_counter() - start
        return solution


class ExhaustiveSearcher:
    """Best route by enumerating simple paths; a reference for tests.

    Enumeration is bounded by ``max_paths``; when the bound is hit the answer
    is the best of the routes seen and ``info["truncated"]`` is true.

    Parameters
    ----------
    max_paths : int, default=100000
        Most simple paths enumerated.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``nodes_removed``, ``links_removed``,
    ``explored`` (paths enumerated) and ``truncated``, plus ``reason`` when
    infeasible.
    """

    def __init__(self, *, max_paths: int = 100_000) -> None:
        self.max_paths = max_paths

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_paths={self.max_paths!r})"

    def search(self, problem: PathProblem) -> PathSolution:
        """Return the fastest feasible route among the enumerated ones.

        Raises
        ------
        ConfigError
            If the problem is malformed or ``max_paths`` is not a positive
            integer.
        """
        start = time.perf_counter()
        value = self.max_paths
        if (
            not isinstance(value, numbers.Integral)
            or isinstance(value, bool)
            or value < 1
        ):
            raise ConfigError(
                f"`max_paths` of `ExhaustiveSearcher` must be a positive integer; "
                f"got {value!r}."
            )
        problem.validate()
        graph, nodes_removed, links_removed = working_graph(problem)
        info: dict[str, Any] = {
            "nodes_removed": nodes_removed,
            "links_removed": links_removed,
            "explored": 0,
            "truncated": False,
        }
        solution = _trivial(problem, info)
        if solution is None:
            paths = nx.all_simple_paths(graph, problem.source, _live_targets(problem))
            best: tuple[Any, ...] = ()
            best_latency = math.inf
            for path in itertools.islice(paths, self.max_paths):
                info["explored"] += 1
                latency = problem.path_latency(tuple(path))
                if latency < best_latency:
                    best, best_latency = tuple(path), latency
            info["truncated"] = info["explored"] >= self.max_paths
            if not best:
                solution = _infeasible(
                    "disconnected: no working route from the source to any target",
                    info,
                )
            else:
                solution = _solution(problem, best, info)
        info["wall_time_s"] = time.perf_counter() - start
        return solution
