"""Conformance suite for every registered optimizer (placers and path searchers).

The backends come from the registry, so a new placer or path searcher is
checked as soon as it is declared. Give a slow one cheaper options in
``FAST_OPTIONS``.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import pytest

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import (
    HostSpec,
    PathProblem,
    PathSolution,
    PlacementProblem,
    PlacementSolution,
    ServiceSpec,
    link_key,
)
from qnrecovery.registry import backend, entries

FAST_OPTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("placer", "annealing"): {"num_reads": 10, "num_sweeps": 200, "random_state": 0},
    ("path", "grover"): {"latency_bits": 4, "random_state": 0},
}

PLACERS = [entry.name for entry in entries("placer")]
SEARCHERS = [entry.name for entry in entries("path")]


def make(kind: str, name: str) -> Any:
    return backend(kind, name, **FAST_OPTIONS.get((kind, name), {}))


# ------------------------------------------------------------------ placement


def feasible_placement() -> PlacementProblem:
    return PlacementProblem(
        services=(
            ServiceSpec("db", "ultra-critical", 2.0, "h1"),
            ServiceSpec("api", "critical", 1.0, "h2"),
            ServiceSpec("web", "important", 1.0, "h3"),
            ServiceSpec("batch", "standard", 3.0, "h4"),
        ),
        hosts=(
            HostSpec("h1", 6.0, "rack-a"),
            HostSpec("h2", 6.0, "rack-b", failure_probability=0.2),
            HostSpec("h3", 6.0, "rack-c"),
            HostSpec("h4", 6.0, "rack-a", cost=3.0),
        ),
        latency_ms={("h1", "h2"): 2.0, ("h1", "h3"): 0.5},
    )


def infeasible_placements() -> dict[str, PlacementProblem]:
    two_racks = (HostSpec("h1", 10.0, "rack-a"), HostSpec("h2", 10.0, "rack-b"))
    return {
        # hot + warm need two domains besides the primary's; only one exists
        "domains": PlacementProblem(
            services=(ServiceSpec("db", "ultra-critical", 1.0, "h1"),),
            hosts=two_racks,
        ),
        # a hot standby of 8 units fits nowhere
        "capacity": PlacementProblem(
            services=(ServiceSpec("db", "critical", 8.0, "h1"),),
            hosts=(HostSpec("h1", 10.0, "rack-a"), HostSpec("h2", 5.0, "rack-b")),
        ),
        # every host is in the primary's domain
        "one-domain": PlacementProblem(
            services=(ServiceSpec("db", "critical", 1.0, "h1"),),
            hosts=(HostSpec("h1", 10.0, "rack-a"), HostSpec("h2", 10.0, "rack-a")),
        ),
    }


@pytest.mark.parametrize("name", PLACERS)
def test_placer_feasible_solution(name):
    problem = feasible_placement()
    solution = make("placer", name).place(problem)
    assert isinstance(solution, PlacementSolution)
    assert solution.feasible
    assert solution.violations == problem.violations(solution.assignment) == []
    assert set(solution.assignment) == {slot.key for slot in problem.slots()}
    assert solution.objective == pytest.approx(problem.objective(solution.assignment))
    for key in ("wall_time_s", "variables", "constraints", "status"):
        assert key in solution.info


@pytest.mark.parametrize("name", PLACERS)
@pytest.mark.parametrize("case", sorted(infeasible_placements()))
def test_placer_infeasible_reports_it(name, case):
    problem = infeasible_placements()[case]
    solution = make("placer", name).place(problem)
    assert isinstance(solution, PlacementSolution)
    assert not solution.feasible
    assert math.isinf(solution.objective)
    assert solution.violations
    assert solution.info["reason"]


@pytest.mark.parametrize("name", PLACERS)
def test_placer_validates_problem(name):
    bad = PlacementProblem(
        services=(ServiceSpec("db", "critical", 1.0, "nowhere"),),
        hosts=(HostSpec("h1", 1.0, "a"),),
    )
    with pytest.raises(ConfigError, match="primary host"):
        make("placer", name).place(bad)


# ---------------------------------------------------------------------- paths


def ring() -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for u, v, latency in [
        ("s", "a", 1.0),
        ("a", "t", 1.0),
        ("s", "b", 2.0),
        ("b", "t", 2.0),
        ("s", "t", 10.0),
    ]:
        graph.add_edge(u, v, latency_ms=latency)
    graph.add_edge("s", "a", latency_ms=0.5)  # a faster parallel link
    return graph


@pytest.mark.parametrize("name", SEARCHERS)
def test_searcher_feasible_solution(name):
    problem = PathProblem(ring(), "s", ("t",), latency_budget_ms=5.0)
    solution = make("path", name).search(problem)
    assert isinstance(solution, PathSolution)
    assert solution.feasible
    assert solution.path == ("s", "a", "t")
    assert solution.target == "t"
    assert solution.objective == pytest.approx(1.5)
    assert problem.is_feasible(solution.path)
    for key in ("wall_time_s", "nodes_removed", "links_removed", "explored"):
        assert key in solution.info


@pytest.mark.parametrize("name", SEARCHERS)
def test_searcher_avoids_failures(name):
    problem = PathProblem(
        ring(),
        "s",
        ("t",),
        failed_nodes=frozenset({"b"}),
        failed_links=frozenset({link_key("a", "s")}),
    )
    solution = make("path", name).search(problem)
    assert solution.feasible
    assert solution.path == ("s", "t")
    assert solution.info["nodes_removed"] == 1
    assert solution.info["links_removed"] == 1


@pytest.mark.parametrize("name", SEARCHERS)
@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"failed_nodes": frozenset({"a", "b"}), "latency_budget_ms": 5.0}, "budget"),
        (
            {
                "failed_nodes": frozenset({"a", "b"}),
                "failed_links": frozenset({link_key("s", "t")}),
            },
            "disconnected",
        ),
        ({"failed_nodes": frozenset({"t"})}, "target"),
        ({"failed_nodes": frozenset({"s"})}, "source"),
    ],
)
def test_searcher_infeasible_reports_it(name, kwargs, reason):
    problem = PathProblem(ring(), "s", ("t",), **kwargs)
    solution = make("path", name).search(problem)
    assert not solution.feasible
    assert math.isinf(solution.objective)
    assert solution.path == ()
    assert reason in solution.info["reason"]
    assert not problem.is_feasible(solution.path)


@pytest.mark.parametrize("name", SEARCHERS)
def test_searcher_source_is_target(name):
    problem = PathProblem(ring(), "s", ("s", "t"))
    solution = make("path", name).search(problem)
    assert solution.feasible
    assert solution.path == ("s",)
    assert solution.objective == 0.0


@pytest.mark.parametrize("name", SEARCHERS)
@pytest.mark.parametrize(
    ("source", "targets"), [("nowhere", ("t",)), ("s", ("nowhere",)), ("s", ())]
)
def test_searcher_unknown_nodes_refused(name, source, targets):
    with pytest.raises(ConfigError, match="PathProblem"):
        make("path", name).search(PathProblem(ring(), source, targets))


# -------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kind", "name"),
    [("placer", n) for n in PLACERS] + [("path", n) for n in SEARCHERS],
)
def test_unknown_options_refused(kind, name):
    with pytest.raises(ConfigError, match="does not accept options"):
        backend(kind, name, bogus=1)
