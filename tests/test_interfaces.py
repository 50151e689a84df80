"""The problem dataclasses judge solutions the same way for every backend."""

from __future__ import annotations

import math

import networkx as nx

from qnrecovery.interfaces import PathProblem, link_key


def _line() -> nx.Graph:
    graph = nx.Graph()
    graph.add_edge("a", "b", latency_ms=1.0)
    graph.add_edge("b", "c", latency_ms=2.0)
    graph.add_edge("a", "c", latency_ms=10.0)
    return graph


def test_a_route_through_a_failed_node_is_infeasible_without_a_budget() -> None:
    problem = PathProblem(_line(), "a", ("c",), failed_nodes=frozenset({"b"}))

    assert problem.latency_budget_ms == math.inf
    assert not problem.is_feasible(("a", "b", "c"))
    assert problem.is_feasible(("a", "c"))


def test_a_route_over_a_failed_link_is_infeasible_without_a_budget() -> None:
    problem = PathProblem(
        _line(), "a", ("c",), failed_links=frozenset({link_key("c", "a")})
    )

    assert not problem.is_feasible(("a", "c"))
    assert problem.is_feasible(("a", "b", "c"))


def test_the_budget_still_bounds_a_working_route() -> None:
    problem = PathProblem(_line(), "a", ("c",), latency_budget_ms=2.5)

    assert problem.is_feasible(("a", "b", "c")) is False
    assert PathProblem(_line(), "a", ("c",), latency_budget_ms=3.0).is_feasible(
        ("a", "b", "c")
    )
