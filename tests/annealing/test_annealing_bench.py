"""The placement benchmark suite, on tiny sizes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from qnrecovery.bench.placement import (
    METHODS,
    budget_curve,
    budget_table,
    compare_methods,
    method_table,
    run_suite,
)


def test_compare_methods_rows() -> None:
    rows = compare_methods([(8, 5)], instances=1, seed=0)
    assert [r["method"] for r in rows] == list(METHODS)
    by_method = {r["method"]: r for r in rows}
    assert by_method["milp"]["mean_gap"] == 0.0
    for row in rows:
        if row["method"] == "cqm_to_bqm, raw":
            continue  # the plain conversion may find nothing feasible
        assert row["feasible"] == "1/1"
        assert row["mean_gap"] >= -1e-9
        assert row["median_s"] > 0
    assert by_method["annealing"]["raw_feasible_share"] is not None
    assert by_method["greedy"]["raw_feasible_share"] is None
    assert "| 8x5 | annealing, raw |" in method_table(rows)


def test_budget_curve_rows() -> None:
    rows = budget_curve((8, 5), instances=1, seed=0, budgets=((2, 20), (4, 50)))
    assert [r["method"] for r in rows] == [
        "annealing",
        "annealing",
        "greedy + repair/local search",
        "milp",
    ]
    assert rows[0]["reads"] == 2
    assert all(math.isfinite(r["wall_s"]) for r in rows)
    assert "2 x 20" in budget_table(rows)


@pytest.mark.slow
def test_quick_suite_writes_its_plot(tmp_path: Path) -> None:
    report = run_suite(quick=True, seed=0, out=tmp_path)
    assert (tmp_path / "placement_gap_vs_time.png").stat().st_size > 0
    assert report.figures["methods"]
    assert "greedy + repair/local search" in report.table
