"""The ``annealing`` placer: feasibility, agreement with the MILP, escalation,
infeasibility reports and bad options."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnrecovery.annealing.placer import AnnealingPlacer
from qnrecovery.bench.optimizers import random_placement
from qnrecovery.classical.placement import MILPPlacer
from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
from qnrecovery.registry import backend

FAST = {"num_reads": 10, "num_sweeps": 300}


def test_registered() -> None:
    placer = backend("placer", "annealing", random_state=1)
    assert isinstance(placer, AnnealingPlacer)
    assert placer.get_params()["random_state"] == 1


@pytest.mark.parametrize(
    ("size", "seed"), [((10, 5), 0), ((10, 5), 1), ((20, 8), 2), ((30, 8), 3)]
)
def test_every_placement_is_feasible(size: tuple[int, int], seed: int) -> None:
    problem = random_placement(*size, np.random.default_rng(seed), slack=1.2)
    solution = AnnealingPlacer(random_state=seed, **FAST).place(problem)
    assert solution.feasible
    assert problem.violations(solution.assignment) == []
    assert set(solution.assignment) == {s.key for s in problem.slots()}
    assert solution.objective == pytest.approx(problem.objective(solution.assignment))


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_milp_on_small_instances(seed: int) -> None:
    problem = random_placement(8, 5, np.random.default_rng(100 + seed))
    ours = AnnealingPlacer(random_state=seed, **FAST).place(problem)
    exact = MILPPlacer().place(problem)
    assert ours.feasible and exact.feasible
    assert ours.objective == pytest.approx(exact.objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_raw_annealer_agrees_with_milp_without_repair(seed: int) -> None:
    problem = random_placement(6, 5, np.random.default_rng(200 + seed))
    ours = AnnealingPlacer(random_state=seed, repair=False, num_reads=20).place(problem)
    exact = MILPPlacer().place(problem)
    assert ours.feasible
    assert ours.info["feasible_share"] > 0
    # The capacity penalty bends the energy a little: near-ties may flip.
    assert ours.objective == pytest.approx(exact.objective, rel=1e-3)


def test_info_records_the_run() -> None:
    problem = random_placement(12, 6, np.random.default_rng(5))
    solution = AnnealingPlacer(random_state=0, **FAST).place(problem)
    info = solution.info
    for key in (
        "reads",
        "sweeps",
        "penalties",
        "energy",
        "feasible_share",
        "wall_time_s",
        "variables",
        "interactions",
        "constraints",
        "tries",
        "escalations",
        "raw_objective",
        "lower_bound",
        "gap_bound",
    ):
        assert key in info, key
    assert info["reads"] >= FAST["num_reads"]
    assert info["sweeps"] == FAST["num_sweeps"]
    assert 0.0 <= info["feasible_share"] <= 1.0
    assert info["lower_bound"] <= solution.objective
    assert 0.0 <= info["gap_bound"] < 1.0


def test_seed_makes_runs_repeatable() -> None:
    problem = random_placement(15, 6, np.random.default_rng(7))
    first = AnnealingPlacer(random_state=3, **FAST).place(problem)
    second = AnnealingPlacer(random_state=3, **FAST).place(problem)
    assert first.assignment == second.assignment
    assert first.info["energy"] == second.info["energy"]


def tight() -> PlacementProblem:
    """Both hot standbys want h2, which holds only one of them."""
    return PlacementProblem(
        services=(
            ServiceSpec("a", "critical", 2.0, "h1"),
            ServiceSpec("b", "critical", 2.0, "h1"),
        ),
        hosts=(
            HostSpec("h1", 10.0, "r1"),
            HostSpec("h2", 2.0, "r2"),
            HostSpec("h3", 10.0, "r3", failure_probability=0.2),
        ),
        latency_ms={("h1", "h2"): 1.0, ("h1", "h3"): 5.0},
    )


def test_penalties_escalate_until_feasible() -> None:
    placer = AnnealingPlacer(random_state=0, repair=False, num_reads=20)
    solution = placer.place(tight())
    tries = solution.info["tries"]
    assert solution.info["escalations"] >= 1
    assert len(tries) == solution.info["escalations"] + 1
    assert tries[0]["feasible_share"] == 0.0
    assert tries[-1]["feasible_share"] > 0.0
    assert tries[-1]["penalties"]["capacity"] > tries[0]["penalties"]["capacity"]
    assert solution.feasible
    assert solution.objective == pytest.approx(MILPPlacer().place(tight()).objective)


def test_gives_up_after_bounded_escalations() -> None:
    placer = AnnealingPlacer(
        random_state=0, repair=False, max_escalations=0, num_reads=5
    )
    solution = placer.place(tight())
    assert not solution.feasible
    assert math.isinf(solution.objective)
    assert solution.info["escalations"] == 0
    assert "0 penalty escalation(s)" in solution.info["reason"]
    assert "capacity[h2]" in solution.info["reason"]
    assert any("over capacity" in v for v in solution.violations)


def test_repair_rescues_infeasible_samples() -> None:
    placer = AnnealingPlacer(random_state=0, max_escalations=0, num_reads=5)
    solution = placer.place(tight())
    assert solution.info["feasible_share"] == 0.0
    assert solution.feasible
    assert solution.info["status"] == "feasible after repair"


# ------------------------------------------------------- infeasible problems


def test_too_little_capacity_says_by_how_much() -> None:
    problem = PlacementProblem(
        services=tuple(ServiceSpec(f"s{k}", "critical", 3.0, "h1") for k in range(3)),
        hosts=(
            HostSpec("h1", 12.0, "a"),
            HostSpec("h2", 4.0, "b"),
            HostSpec("h3", 4.0, "c"),
        ),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    assert "total capacity" in solution.info["reason"]
    assert (
        "standbys reserve 9 units; the hosts they may use have 8 left"
        in solution.info["reason"]
    )
    assert "short by 1" in solution.info["reason"]
    assert solution.violations


def test_reservation_larger_than_any_host() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "critical", 8.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "a"), HostSpec("h2", 5.0, "b")),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    assert "capacity for db/hot: it reserves 8 units" in solution.info["reason"]
    assert "short by 3" in solution.info["reason"]


def test_one_failure_domain_only() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "critical", 1.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "rack-a"), HostSpec("h2", 10.0, "rack-a")),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    reason = solution.info["reason"]
    assert "domains[db]" in reason
    assert "0 available (none), short by 1" in reason


def test_too_few_domains_for_two_standbys() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "ultra-critical", 1.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "a"), HostSpec("h2", 10.0, "b")),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    assert (
        "2 standby(s) need distinct failure domains outside 'a'"
        in solution.info["reason"]
    )
    assert "short by 1" in solution.info["reason"]


def test_primaries_over_capacity() -> None:
    problem = PlacementProblem(
        services=(
            ServiceSpec("a", "standard", 3.0, "h1"),
            ServiceSpec("b", "standard", 3.0, "h1"),
        ),
        hosts=(HostSpec("h1", 5.0, "a"), HostSpec("h2", 5.0, "b")),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    assert (
        "capacity[h1]: its primaries alone need 6 units of 5, over by 1"
        in solution.info["reason"]
    )


def test_host_with_zero_capacity_holds_only_cold_standbys() -> None:
    problem = PlacementProblem(
        services=(
            ServiceSpec("db", "critical", 1.0, "h1"),
            ServiceSpec("logs", "standard", 1.0, "h1"),
        ),
        hosts=(
            HostSpec("h1", 10.0, "a"),
            HostSpec("h2", 0.0, "b"),  # nearest, but no room
            HostSpec("h3", 10.0, "c"),
        ),
        latency_ms={("h1", "h2"): 0.5, ("h1", "h3"): 9.0},
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert solution.feasible
    assert solution.assignment["db/hot"] == "h3"
    assert solution.assignment["logs/cold"] == "h2"  # reserves nothing
    assert solution.objective == pytest.approx(MILPPlacer().place(problem).objective)


def test_only_host_with_zero_capacity_is_infeasible() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "critical", 1.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "a"), HostSpec("h2", 0.0, "b")),
    )
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert not solution.feasible
    assert (
        "most room on an allowed host is 0 (h2), short by 1" in solution.info["reason"]
    )


def test_zero_services_refused() -> None:
    problem = PlacementProblem(services=(), hosts=(HostSpec("h1", 1.0, "a"),))
    with pytest.raises(ConfigError, match="at least one service"):
        AnnealingPlacer().place(problem)


def test_negative_demand_refused() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "critical", -1.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "a"), HostSpec("h2", 10.0, "b")),
    )
    with pytest.raises(ConfigError, match="demand must be a finite number >= 0"):
        AnnealingPlacer().place(problem)


# ------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num_reads": 0}, "`num_reads` of `AnnealingPlacer` must be a positive"),
        ({"num_sweeps": 2.5}, "`num_sweeps`"),
        ({"time_limit_s": -1}, "`time_limit_s`"),
        ({"penalty": float("nan")}, "`penalty`"),
        ({"encoding": "unary"}, "domain-wall, one-hot; got 'unary'"),
        ({"beta_range": (1.0,)}, "`beta_range`"),
        ({"candidates": 0}, "`candidates`"),
        ({"max_escalations": -1}, "`max_escalations`"),
        ({"repair": "yes"}, "`repair`"),
    ],
)
def test_bad_options_refused_on_place(options: dict, match: str) -> None:
    placer = AnnealingPlacer(**options)
    with pytest.raises(ConfigError, match=match):
        placer.place(tight())


def test_set_params_refuses_unknown_names() -> None:
    with pytest.raises(ConfigError, match="has no option 'reads'"):
        AnnealingPlacer().set_params(reads=3)


def test_time_limit_stops_early() -> None:
    problem = random_placement(60, 12, np.random.default_rng(0))
    placer = AnnealingPlacer(
        random_state=0, num_reads=1000, num_sweeps=1000, time_limit_s=0.05
    )
    solution = placer.place(problem)
    assert solution.info["reads"] < 1000
    assert solution.feasible


def test_default_options_are_fast_at_drill_size() -> None:
    problem = random_placement(20, 8, np.random.default_rng(11))
    solution = AnnealingPlacer(random_state=0).place(problem)
    assert solution.feasible
    assert solution.info["wall_time_s"] < 2.0


@pytest.mark.parametrize("encoding", ["one-hot", "domain-wall"])
def test_both_encodings_place(encoding: str) -> None:
    problem = random_placement(10, 5, np.random.default_rng(4))
    solution = AnnealingPlacer(random_state=0, encoding=encoding, **FAST).place(problem)
    assert solution.feasible
    assert solution.info["encoding"] == encoding


@pytest.mark.slow  # building and embedding into a full-size Pegasus graph
def test_a_structured_target_embeds_the_model_and_still_places_feasibly() -> None:
    from qnrecovery.annealing import AnnealingPlacer
    from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec

    problem = PlacementProblem(
        services=(
            ServiceSpec("db", "critical", 2.0, "h1"),
            ServiceSpec("web", "important", 1.0, "h2"),
        ),
        hosts=(
            HostSpec("h1", 4.0, "rack-a"),
            HostSpec("h2", 4.0, "rack-b"),
            HostSpec("h3", 4.0, "rack-c"),
        ),
    )

    solution = AnnealingPlacer(
        target="structured:pegasus", num_reads=5, random_state=0
    ).place(problem)

    assert solution.feasible
    assert solution.info["target"] == "structured:pegasus"
    assert not problem.violations(solution.assignment)
