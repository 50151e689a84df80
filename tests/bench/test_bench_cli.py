"""``qnrecovery bench``: listing, a quick real run, and failures kept apart."""

from __future__ import annotations

import inspect
import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnrecovery.bench import suite as suite_module
from qnrecovery.bench.cli_bench import resolve_suites, run_benchmarks
from qnrecovery.bench.suite import SUITES, SuiteReport, load_suite
from qnrecovery.cli import app
from qnrecovery.exceptions import ConfigError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def flat(text: str) -> str:
    """The output with line wrapping and table borders undone."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def scratch_suites(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three extra suites: one that works, one that raises, one not written."""
    module = types.ModuleType("qnrecovery_scratch_suites")

    def works(
        *, quick: bool, seed: int, out: Path, progress=None, runs=None
    ) -> SuiteReport:
        if progress is not None:
            progress("counting", 0.5)
        return SuiteReport(
            "works", "| a | b |\n|---|---|\n| 1 | 2 |", {"seed": seed, "quick": quick}
        )

    def breaks(
        *, quick: bool, seed: int, out: Path, progress=None, runs=None
    ) -> SuiteReport:
        raise RuntimeError("the solver ran out of patience")

    module.works = works  # type: ignore[attr-defined]
    module.breaks = breaks  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "qnrecovery_scratch_suites", module)
    monkeypatch.setitem(SUITES, "works", "qnrecovery_scratch_suites:works")
    monkeypatch.setitem(SUITES, "breaks", "qnrecovery_scratch_suites:breaks")
    monkeypatch.setitem(
        SUITES, "unwritten", "qnrecovery.bench.no_such_suite_module:run_suite"
    )


def test_list_names_every_suite_and_whether_it_can_run(
    runner: CliRunner, scratch_suites: None
) -> None:
    result = runner.invoke(app, ["bench", "--list"])
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    for name in SUITES:
        assert name in text
    assert "baselines available" in text
    assert (
        "unwritten unavailable module qnrecovery.bench.no_such_suite_module "
        "is not part of this installation." in text
    )


def test_quick_run_of_the_baselines_suite_writes_results_table_and_plots(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["bench", "baselines", "--quick", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output

    results = json.loads((out / "baselines" / "results.json").read_text())
    assert results["suite"] == "baselines"
    assert results["seed"] == 3 and results["quick"] is True
    assert results["command"] == (
        f"qnrecovery bench baselines --quick --seed 3 --out {out}"
    )
    assert results["elapsed_s"] > 0
    assert results["environment"]["packages"]["numpy"]
    assert results["environment"]["cpu_count"] >= 1
    rows = results["figures"]["rows"]
    assert [r["candidate"] for r in rows] == ["greedy"] * 3 + ["exhaustive"]
    assert all(r["candidate_median_s"] > 0 and r["baseline_median_s"] > 0 for r in rows)
    # The exact MILP is a lower bound on greedy's objective.
    for row in rows[:3]:
        assert row["candidate_quality"] >= row["baseline_quality"] - 1e-9
    assert sorted(results["plots"]) == ["placement.png", "placement.svg"]

    table = (out / "baselines" / "table.md").read_text()
    assert table.startswith("# Benchmark: baselines")
    assert "| placement 8 services x 8 hosts | greedy | milp |" in table
    png = (out / "baselines" / "placement.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "<svg" in (out / "baselines" / "placement.svg").read_text()

    index = (out / "index.md").read_text()
    assert "| baselines | ok |" in index
    assert "![baselines: placement](baselines/placement.png)" in index
    summary = json.loads((out / "summary.json").read_text())
    assert [s["status"] for s in summary["suites"]] == ["ok"]


def test_unknown_suite_exits_2_and_names_the_choices(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["bench", "kernal", "--out", str(out)])
    assert result.exit_code == 2
    assert "error: Unknown benchmark suite(s) 'kernal'; choose from predictors" in (
        flat(result.stderr)
    )
    assert not out.exists()


def test_a_failing_suite_does_not_stop_the_others(
    runner: CliRunner, tmp_path: Path, scratch_suites: None
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["bench", "breaks", "works", "--quick", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 1, result.output
    assert "failed: breaks" in flat(result.stderr)
    error = (out / "breaks" / "error.txt").read_text()
    assert "RuntimeError: the solver ran out of patience" in error
    assert json.loads((out / "works" / "results.json").read_text())["figures"] == {
        "seed": 0,
        "quick": True,
    }
    index = (out / "index.md").read_text()
    assert "| breaks | failed |" in index and "| works | ok |" in index


def test_an_unavailable_suite_named_explicitly_fails_the_run(
    runner: CliRunner, tmp_path: Path, scratch_suites: None
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["bench", "unwritten", "works", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "unavailable: unwritten" in flat(result.stderr)
    assert (out / "works" / "table.md").exists()
    assert not (out / "unwritten").exists()


def test_run_benchmarks_reports_progress_per_suite(
    tmp_path: Path, scratch_suites: None
) -> None:
    seen: list[tuple[str, str, float]] = []
    outcomes = run_benchmarks(
        ["works", "unwritten"],
        quick=True,
        seed=1,
        out=tmp_path,
        progress=lambda *event: seen.append(event),
    )
    assert [o.status for o in outcomes] == ["ok", "unavailable"]
    assert seen == [
        ("works", "starting", 0.0),
        ("works", "counting", 0.5),
        ("works", "ok", 1.0),
        ("unwritten", "starting", 0.0),
        ("unwritten", "unavailable", 1.0),
    ]
    results = json.loads((tmp_path / "works" / "results.json").read_text())
    assert results["command"] == (
        f"qnrecovery bench works unwritten --quick --seed 1 --out {tmp_path}"
    )


def test_resolve_suites_defaults_to_all_and_drops_duplicates() -> None:
    assert resolve_suites(None) == list(SUITES)
    assert resolve_suites(["baselines", "paths", "baselines"]) == [
        "baselines",
        "paths",
    ]
    with pytest.raises(ConfigError, match=r"Unknown benchmark suite\(s\) 'x', 'y'"):
        resolve_suites(["x", "baselines", "y"])


def test_load_suite_names_a_module_without_run_suite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SUITES, "harness", "qnrecovery.bench.harness:run_suite")
    with pytest.raises(
        ConfigError,
        match=r"'harness' is not available: module qnrecovery.bench.harness has "
        r"no run_suite\(\) yet",
    ):
        suite_module.load_suite("harness")


def test_output_folder_that_cannot_be_created_exits_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["bench", "baselines", "--out", str(blocker / "x")])
    assert result.exit_code == 2
    assert f"Cannot create the output folder {blocker / 'x'}" in flat(result.stderr)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_listed_suite_has_its_runner(name: str) -> None:
    runner = load_suite(name)
    assert callable(runner)
    assert set(inspect.signature(runner).parameters) >= {"quick", "seed", "out"}


def test_unknown_runtime_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["bench", "baselines", "--runtime", "slurm", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "Unknown runtime 'slurm'" in result.output


def test_the_recorded_command_names_the_runtime() -> None:
    from qnrecovery.bench.cli_bench import _command

    local = _command(["placement"], True, 1, Path("out"))
    on_ray = _command(["placement"], True, 1, Path("out"), "ray", "auto")

    assert local == "qnrecovery bench placement --quick --seed 1 --out out"
    assert on_ray == local + " --runtime ray --address auto"
