"""The paths benchmark suite's pieces on a small seeded run."""

from __future__ import annotations

import numpy as np
import pytest

from qnrecovery.bench.paths import _network_row, random_problems, scan_candidates
from qnrecovery.classical.paths import DijkstraSearcher
from qnrecovery.quantum.grover import verify

pytest.importorskip("qiskit_aer")


@pytest.fixture(scope="module")
def abilene():
    from qnrecovery.data import sample_topology

    return sample_topology()


def test_random_problems_are_seeded_and_valid(abilene):
    first = random_problems(abilene, 4, np.random.default_rng(3), 1.1)
    again = random_problems(abilene, 4, np.random.default_rng(3), 1.1)
    assert [(p.source, p.targets, p.failed_nodes) for p in first] == [
        (p.source, p.targets, p.failed_nodes) for p in again
    ]
    for problem in first:
        problem.validate()
        assert problem.source not in problem.failed_nodes
        assert not set(problem.targets) & problem.failed_nodes
        assert len(problem.failed_links) == 1


def test_scan_ablation_matches_dijkstra_when_route_is_a_candidate(abilene):
    problems = random_problems(abilene, 4, np.random.default_rng(1))
    for problem in problems:
        scan = scan_candidates(problem)
        reference = DijkstraSearcher().search(problem)
        if scan.feasible:
            assert verify(problem, scan.path)
            assert scan.objective >= reference.objective - 1e-9
        assert scan.info["explored"] >= 1


def test_network_row_counts(abilene):
    problems = random_problems(abilene, 2, np.random.default_rng(0))
    row, timing = _network_row("Abilene", abilene, problems, 0, 1, depth=False)
    assert row["problems"] == 2
    assert row["grover_feasible"] <= row["dijkstra_feasible"]
    assert len(row["success"]) == 2
    for success in row["success"]:
        assert success["exact"] == pytest.approx(success["theory"])
    assert [r.candidate.label for r in timing] == ["grover", "scan"]
