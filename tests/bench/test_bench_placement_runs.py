"""The placement and baselines suites as independent runs: any order, same figures."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qnrecovery.bench import baselines
from qnrecovery.bench.optimizers import placement_suite, random_placement
from qnrecovery.bench.placement import _timing_rows, budget_curve, compare_methods
from qnrecovery.bench.runs import LocalRuns, Progress, Run


class BackwardRuns:
    """Runs the last run first, as a cluster may; records what it was given."""

    name = "backward"

    def __init__(self) -> None:
        self.runs: list[Run] = []

    def map(
        self,
        runs: Sequence[Run],
        progress: Progress | None = None,
        *,
        span: tuple[float, float] = (0.0, 1.0),
    ) -> list[Any]:
        self.runs += runs
        results = [run() for run in reversed(runs)]
        return results[::-1]

    def describe(self) -> dict[str, Any]:
        return {"runtime": self.name}


def _untimed(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {key: value for key, value in row.items() if key not in ("median_s", "wall_s")}
        for row in rows
    ]


def _sendable(runs: Sequence[Run]) -> None:
    """Every run can go to another process: module-level function, plain data."""
    for run in runs:
        assert "<locals>" not in run.function.__qualname__, run.label
        pickle.loads(pickle.dumps((run.function, dict(run.kwargs))))


def test_compare_methods_gives_the_same_rows_whatever_the_order_of_its_runs() -> None:
    sizes = [(6, 4), (8, 5)]
    executor = BackwardRuns()
    fractions: list[float] = []

    local = compare_methods(
        sizes,
        2,
        seed=4,
        runs=LocalRuns(),
        progress=lambda _step, done: fractions.append(done),
        span=(0.2, 0.6),
    )
    backward = compare_methods(sizes, 2, seed=4, runs=executor)

    assert _untimed(backward) == _untimed(local)
    # Six solved methods (the raw row comes with the annealer) per instance.
    assert len(executor.runs) == len(sizes) * 2 * 6
    _sendable(executor.runs)
    assert fractions[0] == pytest.approx(0.2)
    assert max(fractions) < 0.6
    assert fractions == sorted(fractions)


def test_compare_methods_gaps_are_those_of_the_placers_called_directly() -> None:
    from qnrecovery.registry import backend

    rows = compare_methods([(8, 5)], 2, seed=7, runs=BackwardRuns())

    rng = np.random.default_rng(7)
    problems = [random_placement(8, 5, rng) for _ in range(2)]
    greedy_gaps, annealing_gaps = [], []
    for k, problem in enumerate(problems):
        best = backend("placer", "milp").place(problem).objective
        greedy = backend("placer", "greedy").place(problem).objective
        annealer = backend("placer", "annealing", random_state=7 + k)
        annealing = annealer.place(problem).objective
        greedy_gaps.append((greedy - best) / best)
        annealing_gaps.append((annealing - best) / best)
    by_method = {row["method"]: row for row in rows}
    assert by_method["greedy"]["gaps"] == greedy_gaps
    assert by_method["annealing"]["gaps"] == annealing_gaps
    assert by_method["milp"]["gaps"] == [0.0, 0.0]
    assert math.isfinite(by_method["annealing, raw"]["mean_gap"])
    assert by_method["annealing"]["feasible"] == "2/2"


def test_budget_curve_gives_the_same_rows_whatever_the_order_of_its_runs() -> None:
    budgets = ((2, 20), (4, 40))
    executor = BackwardRuns()

    local = budget_curve((8, 5), 2, seed=1, budgets=budgets)
    backward = budget_curve((8, 5), 2, seed=1, budgets=budgets, runs=executor)

    assert _untimed(backward) == _untimed(local)
    assert [row["method"] for row in backward] == [
        "annealing",
        "annealing",
        "greedy + repair/local search",
        "milp",
    ]
    # Two references and two budgets on each of the two instances.
    assert len(executor.runs) == 2 * 2 + 2 * 2
    _sendable(executor.runs)


def test_timing_is_one_run_per_size_measuring_both_sides() -> None:
    executor = BackwardRuns()

    rows = _timing_rows([(6, 4), (8, 5)], seed=2, repeats=2, runs=executor)

    assert [run.label for run in executor.runs] == ["timing 6x4", "timing 8x5"]
    _sendable(executor.runs)
    assert [r.name for r in rows] == [
        "placement 6 services x 4 hosts",
        "placement 8 services x 5 hosts",
    ]
    for row in rows:
        assert len(row.candidate.times_s) == len(row.baseline.times_s) == 2
        assert row.candidate.label == "annealing" and row.baseline.label == "milp"
        # The annealer answers at or above the exact optimum.
        assert row.candidate.scores[0] >= row.baseline.scores[0] - 1e-9
    local = _timing_rows([(6, 4), (8, 5)], seed=2, repeats=2)
    assert [r.candidate.scores for r in local] == [r.candidate.scores for r in rows]
    assert [r.baseline.scores for r in local] == [r.baseline.scores for r in rows]


def test_placement_suite_draws_every_size_before_its_runs() -> None:
    sizes = ((4, 6), (6, 6))
    executor = BackwardRuns()

    local = placement_suite(sizes=sizes, instances=2, repeats=1, seed=5)
    backward = placement_suite(
        sizes=sizes, instances=2, repeats=1, seed=5, runs=executor
    )

    assert len(executor.runs) == len(sizes)
    _sendable(executor.runs)
    assert [
        (r.name, r.candidate.scores, r.baseline.scores, r.notes) for r in local
    ] == [(r.name, r.candidate.scores, r.baseline.scores, r.notes) for r in backward]


def test_baselines_suite_is_a_run_per_size_and_one_for_the_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baselines, "QUICK_SIZES", ((4, 6), (6, 6)))
    executor = BackwardRuns()

    local = baselines.run_suite(quick=True, seed=3, out=tmp_path / "local")
    backward = baselines.run_suite(
        quick=True, seed=3, out=tmp_path / "backward", runs=executor
    )

    assert [run.label for run in executor.runs] == [
        "placement 4x6",
        "placement 6x6",
        "paths on Abilene",
    ]
    _sendable(executor.runs)

    def quality(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (r["name"], r["candidate_quality"], r["baseline_quality"], r["notes"])
            for r in rows
        ]

    assert quality(backward.figures["rows"]) == quality(local.figures["rows"])
    assert len(local.figures["rows"]) == 3
