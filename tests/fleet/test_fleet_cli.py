"""``qnrecovery simulate``: bad options, and a real run on bundled telemetry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnrecovery.cli import app
from qnrecovery.data import sample_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--components", "0"], "`components` of FleetConfig must be a positive"),
        (["--days", "-2"], "`days` of FleetConfig must be a positive number"),
        (["--profile", "fast"], "`profile` of FleetConfig must be one of"),
        (["--backend", "solver=x"], "unknown kind 'solver'"),
        (["--json", "/nonexistent/dir/r.json"], "folder /nonexistent/dir does not"),
        (["--data", "/nonexistent.npz"], "Telemetry path /nonexistent.npz does not"),
    ],
)
def test_bad_options_exit_2_before_any_work(
    runner: CliRunner, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, ["simulate", "--quiet", *arguments])
    assert result.exit_code == 2, result.output
    assert message in flat(result.stderr)
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_simulate_runs_on_real_telemetry_and_reuses_its_forecasts(
    runner: CliRunner, tmp_path: Path
) -> None:
    cache = tmp_path / "forecasts.npz"
    arguments = [
        "simulate",
        "--quiet",
        "--components",
        "200",
        "--days",
        "10",
        "--data",
        str(sample_path("asd", "omi-2.npz")),
        "--backend",
        "predictor=logistic",
        "--forecast-cache",
        str(cache),
        "--calibrate",
        str(tmp_path / "calibration.json"),
    ]
    reports = []
    for run in range(2):
        path = tmp_path / f"report-{run}.json"
        result = runner.invoke(app, [*arguments, "--json", str(path)])
        assert result.exit_code == 0, result.output
        assert "Simulated recovery time per tier" in result.stdout
        assert "predictive-recovery rate" in result.stdout
        assert "calibration: prepare=" in result.stdout
        reports.append(json.loads(path.read_text()))
    assert cache.is_file()
    first, second = reports
    # omi-2 has 4 labelled segments in 4320 rows (15 days): every component
    # sees the ones its 10-day window covers.
    assert 200 * 4 * 2880 / 4320 * 0.7 < first["faults"] < 200 * 4 * 1.01
    assert first["backends"]["predictor"]["name"] == "logistic"
    assert first["servers"] == ["omi-2"]
    for key in ("faults", "prediction", "tiers", "standbys"):
        assert first[key] == second[key]
    assert second["timings"]["forecast_s"] < first["timings"]["forecast_s"]
    assert second["calibration"]["failures"] == 2 * first["faults"]
