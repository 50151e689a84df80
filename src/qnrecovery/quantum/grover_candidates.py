"""Candidate routes for Grover path search, and the data their oracle reads.

The search space of :class:`~qnrecovery.quantum.grover.GroverSearcher` is a
list of candidate routes, indexed by an ``n``-qubit register. The list is
built on the **intact** network, blind to the failures and to the latency
budget: for each target, the ``per_target`` shortest simple paths by latency
(Yen's algorithm, :func:`networkx.shortest_simple_paths`) on the graph with
parallel edges collapsed to the fastest one. The routes of all targets are
merged and sorted by latency (ties keep enumeration order), so a lower index
never has a higher latency.

Each candidate is described by data the circuit loads:

* the **elements** it uses — its nodes and its links — as small integer ids
  (``1..E``; ``0`` means "no element"), numbered over the union of the
  candidates' elements only;
* its latency as a **fixed-point integer** of ``bits`` bits (see
  :func:`encode_latencies` for the rounding rule).

The failures enter as the ids of the failed elements, one register per
failed element that some candidate uses (a failed element that no candidate
uses cannot change any answer, so it is dropped and counted).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PathProblem, link_key

__all__ = [
    "Candidate",
    "CandidateSet",
    "LatencyEncoding",
    "encode_latencies",
    "enumerate_candidates",
    "failed_element_ids",
]


@dataclass(frozen=True)
class Candidate:
    """One candidate route.

    Attributes
    ----------
    path : tuple
        Nodes from the source to a target.
    latency_ms : float
        Latency over the fastest parallel edge of each hop, in ms.
    """

    path: tuple[Any, ...]
    latency_ms: float

    @property
    def elements(self) -> tuple[tuple[str, Any], ...]:
        """The nodes and links the route uses, as ``("node", n)`` / ``("link", k)``."""
        nodes = tuple(("node", n) for n in self.path)
        links = tuple(
            ("link", link_key(u, v)) for u, v in itertools.pairwise(self.path)
        )
        return nodes + links


@dataclass(frozen=True)
class CandidateSet:
    """The candidate routes of a problem, sorted by latency.

    Attributes
    ----------
    candidates : tuple of Candidate
        Sorted by latency; ties keep enumeration order.
    enumerated : int
        Routes enumerated before any reduction.
    per_target : int
        Routes enumerated per target.
    """

    candidates: tuple[Candidate, ...]
    enumerated: int
    per_target: int

    def __len__(self) -> int:
        return len(self.candidates)

    def head(self, count: int) -> CandidateSet:
        """The ``count`` fastest candidates."""
        return CandidateSet(self.candidates[:count], self.enumerated, self.per_target)

    def element_ids(self) -> dict[tuple[str, Any], int]:
        """Id (from 1) of every element used by some candidate, in first-use order."""
        ids: dict[tuple[str, Any], int] = {}
        for candidate in self.candidates:
            for element in candidate.elements:
                ids.setdefault(element, len(ids) + 1)
        return ids

    def candidate_element_ids(self) -> tuple[tuple[int, ...], ...]:
        """For every candidate, the ids of the elements it uses."""
        ids = self.element_ids()
        return tuple(
            tuple(ids[e] for e in candidate.elements) for candidate in self.candidates
        )


def _intact_graph(problem: PathProblem) -> Any:
    """The whole network as a simple graph, each pair keeping its fastest edge."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(problem.graph.nodes)
    for u, v, data in problem.graph.edges(data=True):
        if u == v:
            continue
        if "latency_ms" not in data:
            raise ConfigError(
                f"Edge ({u!r}, {v!r}) has no 'latency_ms' attribute, which the "
                "Grover path searcher needs; load the network with "
                "qnrecovery.data.load_topology or set latency_ms on every edge."
            )
        value = float(data["latency_ms"])
        if not graph.has_edge(u, v) or value < graph[u][v]["latency_ms"]:
            graph.add_edge(u, v, latency_ms=value)
    return graph


def enumerate_candidates(problem: PathProblem, per_target: int) -> CandidateSet:
    """The ``per_target`` fastest simple routes to each target, on the intact graph.

    Failures and the budget are not looked at. A target equal to the source
    contributes nothing (that route has no hop; the searcher answers it
    directly).

    Parameters
    ----------
    problem : PathProblem
    per_target : int
        Routes enumerated per target.

    Returns
    -------
    CandidateSet
        Every route found, sorted by latency.
    """
    import networkx as nx

    graph = _intact_graph(problem)
    found: list[Candidate] = []
    for target in dict.fromkeys(problem.targets):
        if target == problem.source:
            continue
        paths = nx.shortest_simple_paths(
            graph, problem.source, target, weight="latency_ms"
        )
        try:
            for path in itertools.islice(paths, per_target):
                latency = sum(
                    graph[u][v]["latency_ms"] for u, v in itertools.pairwise(path)
                )
                found.append(Candidate(tuple(path), float(latency)))
        except nx.NetworkXNoPath:
            continue
    ordered = sorted(range(len(found)), key=lambda i: (found[i].latency_ms, i))
    return CandidateSet(tuple(found[i] for i in ordered), len(found), per_target)


def failed_element_ids(
    problem: PathProblem, candidates: CandidateSet
) -> tuple[tuple[int, ...], int]:
    """Ids of the failed elements that some candidate uses.

    Returns
    -------
    ids : tuple of int
        Sorted ids of failed nodes and links within the candidates' elements.
    dropped : int
        Failed nodes and links that no candidate uses.
    """
    ids = candidates.element_ids()
    failed = [("node", n) for n in problem.failed_nodes]
    failed += [("link", frozenset(k)) for k in problem.failed_links]
    kept = sorted({ids[e] for e in failed if e in ids})
    return tuple(kept), len(set(failed)) - len(kept)


@dataclass(frozen=True)
class LatencyEncoding:
    """Candidate latencies as fixed-point integers, and the budget's threshold.

    Attributes
    ----------
    bits : int
        Width of the latency register.
    quantum_ms : float
        Milliseconds per unit.
    threshold : int
        A candidate passes the budget check when its value is at most this.
    values : tuple of int
        One value per candidate.
    """

    bits: int
    quantum_ms: float
    threshold: int
    values: tuple[int, ...]

    @property
    def saturated(self) -> int:
        """The largest value, ``2**bits - 1``; always above the threshold."""
        return 2**self.bits - 1


def encode_latencies(
    latencies: Sequence[float], budget_ms: float, bits: int
) -> LatencyEncoding:
    """Fixed-point latencies that never let an over-budget route pass.

    With ``top = 2**bits - 1``, the unit is ``q = budget / (top - 1)`` (for an
    infinite budget, the largest latency over ``top - 2``). A latency ``L`` is
    stored as ``min(top, ceil(L / q))`` (rounded **up**) and the budget as
    ``floor(budget / q)`` (rounded **down**, at most ``top - 1``), so a stored
    value within the stored budget implies ``L <= budget``. A route within
    less than one unit of the budget may be rejected; ``top`` (saturation)
    is always rejected.

    Parameters
    ----------
    latencies : sequence of float
        Latencies in ms, finite and >= 0.
    budget_ms : float
        The budget; ``inf`` accepts every finite latency.
    bits : int
        Register width, at least 2.

    Returns
    -------
    LatencyEncoding
    """
    top = 2**bits - 1
    if math.isfinite(budget_ms):
        reference, steps = budget_ms, top - 1
    else:
        # One unit of headroom, so the largest latency never saturates.
        reference, steps = max(latencies, default=0.0), top - 2
    quantum = reference / steps if reference > 0 else 1.0
    if math.isfinite(budget_ms):
        threshold = min(top - 1, math.floor(budget_ms / quantum))
        while threshold > 0 and threshold * quantum > budget_ms:
            threshold -= 1
    else:
        threshold = top - 1
    values = []
    for latency in latencies:
        value = min(top, math.ceil(latency / quantum))
        while value < top and value * quantum < latency:
            value += 1
        values.append(value)
    return LatencyEncoding(bits, quantum, threshold, tuple(values))
