"""Placers and path searchers side by side, on the same problems.

- **placement**: the ``greedy`` placer (candidate) against the exact ``milp``
  placer (baseline) on seeded random instances of growing size; quality is
  the mean objective (lower is better), and the notes give the feasible
  share and greedy's gap to the optimum.
- **paths**: ``exhaustive`` enumeration (candidate) against ``dijkstra``
  (baseline) on the bundled Topology Zoo Abilene network, for every
  source-target pair with one failed node; quality is the mean route latency.

Examples
--------
>>> from qnrecovery.bench.harness import format_table
>>> from qnrecovery.bench.optimizers import placement_suite
>>> print(format_table(placement_suite(sizes=((4, 6),), instances=2)))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from qnrecovery.bench.harness import ComparisonResult, compare
from qnrecovery.bench.runs import Progress, Run, RunExecutor, map_runs
from qnrecovery.interfaces import (
    HostSpec,
    PathProblem,
    PathSolution,
    PlacementProblem,
    PlacementSolution,
    ServiceSpec,
)
from qnrecovery.orchestrator.tiers import TIERS
from qnrecovery.registry import backend

__all__ = [
    "path_problems",
    "path_suite",
    "placement_row",
    "placement_suite",
    "random_placement",
]

P = TypeVar("P")
S = TypeVar("S")

_DOMAINS = ("zone-a", "zone-b", "zone-c", "zone-d")


def random_placement(
    n_services: int, n_hosts: int, rng: np.random.Generator, slack: float = 1.5
) -> PlacementProblem:
    """A random placement instance with room for every standby.

    Services get a random tier, a demand of 0.5, 1 or 2 units and a random
    primary host; hosts cycle through four failure domains and get a random
    failure probability (0-0.2) and cost (0.5-2); latencies between hosts are
    uniform in 1-20 ms. Every host gets the same capacity: the largest
    primary load of any host plus ``slack`` times the mean reservation per
    host, so the smaller ``slack``, the tighter the instance.
    """
    tiers = list(TIERS)
    hosts = tuple(
        HostSpec(
            f"h{k}",
            capacity=0.0,
            domain=_DOMAINS[k % len(_DOMAINS)],
            failure_probability=float(rng.uniform(0.0, 0.2)),
            cost=float(rng.uniform(0.5, 2.0)),
        )
        for k in range(n_hosts)
    )
    services = tuple(
        ServiceSpec(
            f"s{i}",
            tiers[int(rng.integers(len(tiers)))],
            float(rng.choice([0.5, 1.0, 2.0])),
            hosts[int(rng.integers(n_hosts))].name,
        )
        for i in range(n_services)
    )
    draft = PlacementProblem(services, hosts)
    reserved = sum(draft.reserved(slot) for slot in draft.slots())
    capacity = max(draft.base_load().values()) + slack * reserved / n_hosts
    hosts = tuple(
        HostSpec(h.name, capacity, h.domain, h.failure_probability, h.cost)
        for h in hosts
    )
    latency = {
        (a.name, b.name): float(rng.uniform(1.0, 20.0))
        for i, a in enumerate(hosts)
        for b in hosts[i + 1 :]
    }
    return PlacementProblem(services, hosts, latency)


def _solve_all(solve: Callable[[P], S], problems: Sequence[P]) -> list[S]:
    return [solve(p) for p in problems]


def _mean_objective(solutions: Sequence[PlacementSolution | PathSolution]) -> float:
    feasible = [s.objective for s in solutions if s.feasible]
    return float(np.mean(feasible)) if feasible else math.inf


def placement_suite(
    sizes: Sequence[tuple[int, int]] = ((8, 8), (16, 12), (32, 16), (64, 24)),
    instances: int = 10,
    repeats: int = 5,
    seed: int = 0,
    *,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[ComparisonResult]:
    """``greedy`` against ``milp`` on random instances of each size.

    Parameters
    ----------
    sizes : sequence of (services, hosts)
        Instance sizes; one comparison row per size.
    instances : int, default=10
        Random instances per size; one timed run solves all of them.
    repeats : int, default=5
        Timed runs of each placer.
    seed : int, default=0
        Seed of the instance generator; the sizes draw their instances from
        it in turn, here, before any placer runs.
    runs : RunExecutor, optional
        Where the sizes' comparisons go (one run per size, timing both
        placers); one after another in this process by default.
    progress : callable, optional
        Called with a run's label and the fraction done.
    span : tuple of float, default=(0.0, 1.0)
        The part of the caller's progress these runs make up.

    Returns
    -------
    list of ComparisonResult
        Quality is the mean objective over feasible answers; the notes give
        how many answers were feasible and greedy's mean and largest relative
        gap to the MILP optimum.
    """
    rng = np.random.default_rng(seed)
    work = []
    for n_services, n_hosts in sizes:
        problems = [
            random_placement(n_services, n_hosts, rng) for _ in range(instances)
        ]
        work.append(
            Run(
                f"placement {n_services}x{n_hosts}",
                placement_row,
                {
                    "name": f"placement {n_services} services x {n_hosts} hosts",
                    "problems": problems,
                    "repeats": repeats,
                },
            )
        )
    return map_runs(work, runs, progress, span=span)


def placement_row(
    name: str, problems: Sequence[PlacementProblem], repeats: int = 5
) -> ComparisonResult:
    """``greedy`` against ``milp`` on `problems`: one row of :func:`placement_suite`.

    Parameters
    ----------
    name : str
        The row's name.
    problems : sequence of PlacementProblem
        Every timed run of a placer solves all of them.
    repeats : int, default=5
        Timed runs of each placer.

    Returns
    -------
    ComparisonResult
    """
    greedy, milp = backend("placer", "greedy"), backend("placer", "milp")
    ours = [greedy.place(p) for p in problems]
    best = [milp.place(p) for p in problems]
    gaps = [
        (g.objective - m.objective) / m.objective
        for g, m in zip(ours, best, strict=True)
        if g.feasible and m.feasible and m.objective > 0
    ]
    notes: dict[str, Any] = {
        "feasible": f"{sum(s.feasible for s in ours)}/"
        f"{sum(s.feasible for s in best)} of {len(problems)}",
        "mean gap": float(np.mean(gaps)) if gaps else math.nan,
        "max gap": float(np.max(gaps)) if gaps else math.nan,
    }
    return compare(
        name,
        functools.partial(_solve_all, greedy.place, problems),
        functools.partial(_solve_all, milp.place, problems),
        repeats=repeats,
        score=_mean_objective,
        candidate_label="greedy",
        baseline_label="milp",
        notes=notes,
    )


def path_problems(
    graph: Any, seed: int = 0, budget_ms: float = math.inf
) -> list[PathProblem]:
    """Every ordered source-target pair of ``graph``, one random node failed.

    The failed node is neither the source nor the target; with fewer than
    three nodes nothing fails.
    """
    rng = np.random.default_rng(seed)
    nodes = sorted(graph.nodes, key=str)
    problems = []
    for source in nodes:
        for target in nodes:
            if target == source:
                continue
            others = [n for n in nodes if n not in (source, target)]
            failed = (
                frozenset({others[int(rng.integers(len(others)))]})
                if others
                else frozenset()
            )
            problems.append(
                PathProblem(graph, source, (target,), failed, frozenset(), budget_ms)
            )
    return problems


def path_suite(
    repeats: int = 5, seed: int = 0, graph: Any = None
) -> list[ComparisonResult]:
    """``exhaustive`` against ``dijkstra`` on a Topology Zoo graph.

    Parameters
    ----------
    repeats : int, default=5
        Timed runs of each searcher; one run solves every problem.
    seed : int, default=0
        Seed of the choice of failed nodes.
    graph : networkx graph, optional
        The network; the bundled Abilene network by default.

    Returns
    -------
    list of ComparisonResult
        One row; quality is the mean latency of the feasible routes, and the
        notes give the problems, feasible answers and disagreements.
    """
    if graph is None:
        from qnrecovery.data import sample_topology

        graph = sample_topology()
    problems = path_problems(graph, seed)
    exhaustive, dijkstra = backend("path", "exhaustive"), backend("path", "dijkstra")
    ours = [exhaustive.search(p) for p in problems]
    reference = [dijkstra.search(p) for p in problems]
    disagree = sum(
        1
        for a, b in zip(ours, reference, strict=True)
        if a.feasible != b.feasible
        or (a.feasible and not math.isclose(a.objective, b.objective, rel_tol=1e-9))
    )
    notes = {
        "problems": len(problems),
        "feasible": f"{sum(s.feasible for s in ours)}/"
        f"{sum(s.feasible for s in reference)}",
        "disagreements": disagree,
        "paths enumerated": sum(int(s.info.get("explored", 0)) for s in ours),
    }
    name = str(graph.graph.get("label") or graph.graph.get("Network") or "graph")
    return [
        compare(
            f"paths on {name} ({graph.number_of_nodes()} nodes, "
            f"{graph.number_of_edges()} edges)",
            functools.partial(_solve_all, exhaustive.search, problems),
            functools.partial(_solve_all, dijkstra.search, problems),
            repeats=repeats,
            score=_mean_objective,
            candidate_label="exhaustive",
            baseline_label="dijkstra",
            notes=notes,
        )
    ]
