"""Property tests: the exact optimizers agree with brute force."""

from __future__ import annotations

import itertools
import math

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qnrecovery.classical.paths import DijkstraSearcher, ExhaustiveSearcher
from qnrecovery.classical.placement import GreedyPlacer, MILPPlacer
from qnrecovery.interfaces import (
    HostSpec,
    PathProblem,
    PlacementProblem,
    ServiceSpec,
    link_key,
)
from qnrecovery.orchestrator.tiers import TIERS

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def placement_problems(draw: st.DrawFn) -> PlacementProblem:
    n_hosts = draw(st.integers(2, 4))
    hosts = tuple(
        HostSpec(
            f"h{i}",
            capacity=draw(st.sampled_from([2.0, 3.0, 4.0, 6.0])),
            domain=f"d{draw(st.integers(0, 2))}",
            failure_probability=draw(st.sampled_from([0.0, 0.1, 0.3])),
            cost=draw(st.sampled_from([0.5, 1.0, 2.0])),
        )
        for i in range(n_hosts)
    )
    n_services = draw(st.integers(1, 3))
    services = tuple(
        ServiceSpec(
            f"s{i}",
            tier=draw(st.sampled_from(sorted(TIERS))),
            demand=draw(st.sampled_from([0.5, 1.0, 2.0])),
            primary_host=f"h{draw(st.integers(0, n_hosts - 1))}",
        )
        for i in range(n_services)
    )
    latency = {
        (a.name, b.name): draw(st.sampled_from([0.5, 1.0, 3.0]))
        for a, b in itertools.combinations(hosts, 2)
    }
    return PlacementProblem(services, hosts, latency_ms=latency)


def brute_force(problem: PlacementProblem) -> float:
    """Lowest objective over every assignment, ``inf`` if none is feasible."""
    slots = problem.slots()
    names = [h.name for h in problem.hosts]
    best = math.inf
    for hosts in itertools.product(names, repeat=len(slots)):
        assignment = {s.key: h for s, h in zip(slots, hosts, strict=True)}
        if not problem.violations(assignment):
            best = min(best, problem.objective(assignment))
    return best


@SETTINGS
@given(placement_problems())
def test_milp_matches_brute_force_and_beats_greedy(problem):
    exact = MILPPlacer().place(problem)
    greedy = GreedyPlacer().place(problem)
    optimum = brute_force(problem)

    assert exact.feasible == math.isfinite(optimum)
    assert exact.feasible == (not problem.violations(exact.assignment))
    assert greedy.feasible == (not problem.violations(greedy.assignment))
    if exact.feasible:
        assert math.isclose(exact.objective, optimum, rel_tol=1e-9, abs_tol=1e-9)
    if greedy.feasible:
        assert exact.feasible
        assert exact.objective <= greedy.objective + 1e-9


@st.composite
def path_problems(draw: st.DrawFn) -> PathProblem:
    n = draw(st.integers(2, 7))
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(n))
    pairs = list(itertools.combinations(range(n), 2))
    for u, v in draw(st.lists(st.sampled_from(pairs), min_size=n, max_size=18)):
        graph.add_edge(u, v, latency_ms=draw(st.integers(1, 9)) / 2)
    source = draw(st.integers(0, n - 1))
    targets = tuple(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=3)))
    failed_nodes = frozenset(draw(st.sets(st.integers(0, n - 1), max_size=1)))
    edges = sorted({link_key(u, v) for u, v in graph.edges()}, key=sorted)
    failed_links = (
        frozenset(draw(st.sets(st.sampled_from(edges), max_size=3)))
        if (edges)
        else frozenset()
    )
    budget = draw(st.sampled_from([math.inf, 3.0, 8.0]))
    return PathProblem(graph, source, targets, failed_nodes, failed_links, budget)


@SETTINGS
@given(path_problems())
def test_dijkstra_matches_exhaustive(problem):
    fast = DijkstraSearcher().search(problem)
    reference = ExhaustiveSearcher().search(problem)
    assert not reference.info["truncated"]
    assert fast.feasible == reference.feasible
    assert math.isclose(fast.objective, reference.objective) or (
        math.isinf(fast.objective) and math.isinf(reference.objective)
    )
    if fast.feasible:
        assert problem.is_feasible(fast.path)
        assert problem.is_feasible(reference.path)
