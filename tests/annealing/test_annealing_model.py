"""The CQM, the BQM encodings and the repair of the annealing placer."""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import pytest

from qnrecovery.annealing.encoding import ENCODINGS, Penalties, encode
from qnrecovery.annealing.model import (
    PlacementIndex,
    build_cqm,
    constraint_slack,
    variable_label,
)
from qnrecovery.annealing.repair import local_search, repair
from qnrecovery.bench.optimizers import random_placement
from qnrecovery.classical.placement import MILPPlacer
from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec


def tiny() -> PlacementProblem:
    """Three slots; the cheapest hosts of db's two standbys share a domain."""
    return PlacementProblem(
        services=(
            ServiceSpec("db", "ultra-critical", 2.0, "h1"),
            ServiceSpec("api", "critical", 1.0, "h2"),
        ),
        hosts=(
            HostSpec("h1", 6.0, "a"),
            HostSpec("h2", 4.0, "b"),
            HostSpec("h3", 6.0, "b", failure_probability=0.1),
            HostSpec("h4", 6.0, "c", cost=2.0),
        ),
        latency_ms={("h1", "h2"): 1.0, ("h1", "h3"): 2.0, ("h1", "h4"): 6.0},
    )


def brute_force(problem: PlacementProblem) -> float:
    """The optimum by enumerating every placement."""
    index = PlacementIndex.build(problem)
    best = np.inf
    for combo in itertools.product(range(len(index.hosts)), repeat=index.n_slots):
        chosen = np.array(combo)
        if index.is_feasible(chosen):
            best = min(best, index.objective(chosen))
    return float(best)


def test_index_matches_problem() -> None:
    problem = tiny()
    index = PlacementIndex.build(problem)
    for i, slot in enumerate(index.slots):
        assert index.reserve[i] == problem.reserved(slot)
        for j, host in enumerate(index.hosts):
            if host in problem.allowed_hosts(slot):
                assert index.cost[i, j] == pytest.approx(problem.slot_cost(slot, host))
            else:
                assert np.isinf(index.cost[i, j])


def test_cqm_exact_solution_is_the_milp_optimum() -> None:
    problem = tiny()
    cqm = build_cqm(PlacementIndex.build(problem))
    samples = dimod.ExactCQMSolver().sample_cqm(cqm).filter(lambda d: d.is_feasible)
    best = samples.first
    milp = MILPPlacer().place(problem)
    assert best.energy == pytest.approx(milp.objective)
    chosen = {variable_label(key, host): 1 for key, host in milp.assignment.items()}
    assert cqm.check_feasible({v: chosen.get(v, 0) for v in cqm.variables})


def test_cqm_labels_its_constraints() -> None:
    cqm = build_cqm(PlacementIndex.build(tiny()))
    labels = set(cqm.constraints)
    assert "one[db/hot]" in labels
    assert "capacity[h2]" in labels
    assert "domain[db,b]" in labels


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bqm_ground_state_is_the_optimum(encoding: str) -> None:
    problem = tiny()
    index = PlacementIndex.build(problem)
    candidates = index.candidates(None)
    encoded = encode(
        index, candidates, Penalties.from_scale(index, candidates, 1.0), encoding
    )  # type: ignore[arg-type]
    ground = dimod.ExactSolver().sample(encoded.bqm).first.sample
    row = np.array([[ground[v] for v in encoded.bqm.variables]], dtype=float)
    chosen, intact = encoded.decode(row)
    assert intact[0]
    assert index.is_feasible(chosen[0])
    assert index.objective(chosen[0]) == pytest.approx(brute_force(problem))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encoding_round_trip(encoding: str) -> None:
    problem = random_placement(6, 5, np.random.default_rng(3))
    index = PlacementIndex.build(problem)
    candidates = index.candidates(3)
    encoded = encode(
        index, candidates, Penalties.from_scale(index, candidates, 1.0), encoding
    )  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    chosen = np.array([rng.choice(c) for c in candidates])
    sample = encoded.encode_choice(chosen)
    row = np.array([[sample[v] for v in encoded.bqm.variables]], dtype=float)
    decoded, intact = encoded.decode(row)
    assert intact[0]
    assert np.array_equal(decoded[0], chosen)


def test_domain_wall_needs_fewer_variables() -> None:
    problem = random_placement(20, 8, np.random.default_rng(1))
    index = PlacementIndex.build(problem)
    candidates = index.candidates(5)
    penalties = Penalties.from_scale(index, candidates, 1.0)
    wall = encode(index, candidates, penalties, "domain-wall").bqm.num_variables
    hot = encode(index, candidates, penalties, "one-hot").bqm.num_variables
    assert wall == hot - index.n_slots


def test_broken_domain_wall_is_reported() -> None:
    index = PlacementIndex.build(tiny())
    candidates = index.candidates(None)
    encoded = encode(index, candidates, Penalties.from_scale(index, candidates, 1.0))
    row = np.zeros((1, encoded.bqm.num_variables))
    row[0, 0] = 1.0  # d_1 = 1 but d_2 = 0 for the first slot: a broken wall
    _, intact = encoded.decode(row)
    assert not intact[0]


def test_candidates_keep_enough_domains() -> None:
    problem = tiny()
    index = PlacementIndex.build(problem)
    kept = index.candidates(1)
    for i, hosts in enumerate(kept):
        domains = {index.domain[j] for j in hosts}
        assert len(domains) >= int(np.sum(index.service == index.service[i]))


@pytest.mark.parametrize("seed", range(5))
def test_repair_and_local_search_stay_feasible(seed: int) -> None:
    problem = random_placement(30, 8, np.random.default_rng(seed), slack=1.2)
    index = PlacementIndex.build(problem)
    rng = np.random.default_rng(seed)
    start = rng.integers(len(index.hosts), size=index.n_slots)
    fixed = repair(index, start)
    assert fixed is not None
    assert index.is_feasible(fixed)
    assert problem.violations(index.assignment(fixed)) == []
    improved, _ = local_search(index, fixed)
    assert index.is_feasible(improved)
    assert index.objective(improved) <= index.objective(fixed) + 1e-9


def test_repair_gives_up_without_room() -> None:
    problem = PlacementProblem(
        services=(ServiceSpec("db", "critical", 5.0, "h1"),),
        hosts=(HostSpec("h1", 10.0, "a"), HostSpec("h2", 4.0, "b")),
    )
    index = PlacementIndex.build(problem)
    assert repair(index, np.array([1])) is None


def test_constraint_slack_rows() -> None:
    problem = tiny()
    milp = MILPPlacer().place(problem)
    rows = {row.name: row for row in constraint_slack(problem, milp.assignment)}
    assert set(rows) >= {"capacity[h1]", "capacity[h4]", "domains[db]", "domains[api]"}
    for row in rows.values():
        assert row.slack == pytest.approx(row.limit - row.used) or row.name.startswith(
            "domains"
        )
        assert row.slack >= 0
    # db has two standbys and two domains besides its primary's: none to spare.
    assert rows["domains[db]"].slack == 0
    bad = dict(milp.assignment, **{"db/warm": milp.assignment["db/hot"]})
    broken = {r.name: r for r in constraint_slack(problem, bad)}
    assert broken["domains[db]"].slack < 0
