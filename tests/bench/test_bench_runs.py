"""Independent benchmark runs in this process: order, progress, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qnrecovery.bench.runs import LocalRuns, Run, map_runs
from qnrecovery.exceptions import DataError


def _scaled_sum(values: np.ndarray, factor: int) -> float:
    return float(values.sum()) * factor


def _fails(message: str) -> None:
    raise DataError(message)


def test_local_runs_return_results_in_run_order_and_report_progress() -> None:
    values = np.arange(10.0)
    runs = [Run(f"x{k}", _scaled_sum, {"values": values, "factor": k}) for k in (3, 1)]
    steps: list[tuple[str, float]] = []

    results = LocalRuns().map(runs, lambda step, done: steps.append((step, done)))

    assert results == [135.0, 45.0]
    assert steps == [("x3", 0.0), ("x1", 0.5)]


def test_progress_moves_within_the_span_it_is_given() -> None:
    runs = [
        Run(str(k), _scaled_sum, {"values": np.ones(2), "factor": k}) for k in range(4)
    ]
    fractions: list[float] = []

    map_runs(runs, None, lambda _step, done: fractions.append(done), span=(0.5, 0.9))

    assert fractions == pytest.approx([0.5, 0.6, 0.7, 0.8])


def test_a_failing_run_raises_its_own_error() -> None:
    with pytest.raises(DataError, match="bad telemetry"):
        LocalRuns().map([Run("broken", _fails, {"message": "bad telemetry"})])


def test_local_runs_describe_their_runtime() -> None:
    assert LocalRuns().describe() == {"runtime": "local"}
    assert LocalRuns().map([]) == []


def test_suite_results_record_the_runtime(tmp_path: Path) -> None:
    import json

    from qnrecovery.bench.suite import SuiteReport, write_report

    report = SuiteReport("toy", "| a |\n|---|\n| 1 |")
    write_report(report, tmp_path, seed=0, quick=True, command="c")
    default = json.loads((tmp_path / "results.json").read_text())
    write_report(
        report,
        tmp_path,
        seed=0,
        quick=True,
        command="c",
        runtime={"runtime": "ray", "nodes": 3},
    )
    on_ray = json.loads((tmp_path / "results.json").read_text())

    assert default["runtime"] == {"runtime": "local"}
    assert on_ray["runtime"] == {"runtime": "ray", "nodes": 3}


def test_untimed_figures_drop_times_and_ratios_only() -> None:
    from qnrecovery.bench.runs import untimed

    figures = {
        "fit_s": 1.2,
        "p99_ms": 4.0,
        "ratio": 3.0,
        "roc_auc": 0.9,
        "rows": [{"gap": float("nan"), "median_s": 0.1}, (1, 2)],
    }

    assert untimed(figures) == {"roc_auc": 0.9, "rows": [{"gap": "nan"}, [1, 2]]}


def test_differences_name_the_path_of_each_changed_figure() -> None:
    from qnrecovery.bench.runs import differences

    a = {"rows": [{"gap": 0.1, "wall_s": 1.0}], "n": 3}
    b = {"rows": [{"gap": 0.2, "wall_s": 9.0}], "n": 3}

    assert differences(a, a | {"rows": [{"gap": 0.1, "wall_s": 5.0}]}) == []
    assert differences(a, b) == ["figures.rows[0].gap: 0.1 != 0.2"]
    assert differences(a, {"rows": []}) == [
        "figures.n: only in one run",
        "figures.rows: 1 items != 0 items",
    ]
