"""The drill: planning without processes, and one short end-to-end run."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.config import DrillConfig
from qnrecovery.data import sample_path
from qnrecovery.drill import plan_drill, run_drill
from qnrecovery.exceptions import DataError
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind

# Cheap planning backends: these tests are about the drill, not the models.
FAST_BACKENDS = {"predictor": "logistic", "detector": "zscore"}

TIER_KEYS = {"count", "recovered", "p50_ms", "p99_ms", "max_ms", "objective_ms", "met"}


def test_drill_on_missing_data_raises_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "telemetry.npz"
    with pytest.raises(DataError, match="nowhere"):
        run_drill(DrillConfig(data=missing, backends=FAST_BACKENDS))


def test_nab_csv_plans_without_processes() -> None:
    csv = sample_path("nab", "data", "realKnownCause", "nyc_taxi.csv")
    config = DrillConfig(
        data=csv,
        components=2,
        backends=FAST_BACKENDS,
        duration_s=10.0,
    )
    plan = plan_drill(config)

    assert len(plan.servers) == 1 and plan.servers[0].test.shape[1] == 1
    assert [c["server_index"] for c in plan.components] == [0, 0]
    forecast = plan.forecasts[0]
    assert "blocked cross-fitting" in forecast.training
    assert forecast.probabilities.shape == (plan.n_rows,)
    assert np.all((forecast.probabilities >= 0) & (forecast.probabilities <= 1))
    assert forecast.fault_rows, "nyc_taxi has labelled anomaly windows"
    assert math.isclose(plan.row_period_s * plan.n_rows, 10.0)
    for c in plan.components:
        assert set(c["hosts"]) == {
            "primary",
            *(k.value for k in TIERS[c["tier"]].standbys),
        }
        for kind in c["hosts"]:
            if kind != "primary":
                assert f"{c['name']}/{kind}" in plan.routes
    assert set(plan.reviews) == {"svc-1", "svc-2"}


def test_plan_on_real_asd_data(shared_file: Callable[..., Path]) -> None:
    config = DrillConfig(
        data=shared_file("asd", "omi-8.npz"),
        components=1,
        backends=FAST_BACKENDS,
        speed=1e4,
    )
    plan = plan_drill(config)
    assert [s.name for s in plan.servers] == ["omi-8"]
    assert plan.row_period_s == pytest.approx(plan.servers[0].interval_s / 1e4)


@pytest.mark.integration
@pytest.mark.timeout(110)
def test_short_drill_end_to_end(tmp_path: Path) -> None:
    calibration_file = tmp_path / "calibration.json"
    config = DrillConfig(
        components=2,
        duration_s=8,
        backends=FAST_BACKENDS,
        max_faults_per_component=2,
        calibration={"path": calibration_file},
        metrics={"enabled": True, "port": 0},
    )
    report = run_drill(config)

    # Every injected fault was recovered, and each recovery was timed.
    recoveries = report["recoveries"]
    planned = sum(c["faults_planned"] for c in report["components"])
    assert len(recoveries) + len(report["skipped_faults"]) == planned
    assert recoveries, "the bundled servers have labelled anomalies"
    # One SIGKILL per fault: no two faults of a component share a kill.
    kills = {(r["component"], r["fault_at_s"]) for r in recoveries}
    assert len(kills) == len(recoveries)
    for recovery in recoveries:
        assert recovery["recovered"], recovery
        assert recovery["recovery_ms"] is not None and recovery["recovery_ms"] > 0
        assert recovery["strategy"] in ("hot", "warm", "cold")

    tiers = report["summary"]["tiers"]
    assert set(tiers) == {"ultra-critical", "critical"}
    for name, row in tiers.items():
        assert set(row) >= TIER_KEYS
        assert row["objective_ms"] == TIERS[name].objective_ms
        assert row["count"] == sum(r["tier"] == name for r in recoveries)
        if row["count"]:
            assert row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
            assert row["met"] == (row["max_ms"] <= row["objective_ms"])

    # Tiers with a hot standby lose no acknowledged write.
    assert set(report["data_loss"]) == set(tiers)
    for name, loss in report["data_loss"].items():
        assert loss["hot_standby"] is (StandbyKind.HOT in TIERS[name].standbys)
        assert loss["acked_writes"] > 0
        if loss["hot_standby"]:
            assert loss["acked_writes_lost"] == 0, loss

    assert report["backends"]["predictor"]["name"] == "logistic"
    # The quantum profile's path searcher and placer ran on the local targets.
    assert report["backends"]["path"]["options"]["target"] == "statevector"
    assert report["backends"]["placer"]["options"]["target"] == "neal"

    # The configured sinks received the drill's events; the calibration file
    # holds this drill's faults and the thresholds calibrated on them.
    assert report["sinks"] == ["MetricsExporter"]
    saved = json.loads(calibration_file.read_text())
    assert report["calibration"]["calibration"]["failures"] == len(
        report["recoveries"]
    ) + len(report["skipped_faults"])
    assert saved
    text = json.dumps(report)
    assert json.loads(text)["summary"]["faults"] == len(recoveries)


def test_drill_config_checks_fault_kinds() -> None:
    assert DrillConfig().faults == ["kill", "hang", "slow"]
    assert DrillConfig(faults=["hang", "hang", "cascade"]).faults == ["hang", "cascade"]
    with pytest.raises(ValueError, match="meteor"):
        DrillConfig(faults=["kill", "meteor"])
    with pytest.raises(ValueError, match="no fault kind"):
        DrillConfig(faults=[])


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_drill_with_every_fault_kind_reports_them() -> None:
    from qnrecovery.runtime.faults import FAULT_KINDS

    events: list[str] = []

    class Sink:
        def emit(self, event: object) -> None:
            events.append(event.kind)  # type: ignore[attr-defined]

    config = DrillConfig(
        components=4,
        duration_s=10,
        profile="classical",
        backends={"predictor": "logistic"},
        max_faults_per_component=3,
        faults=list(FAULT_KINDS),
    )
    report = run_drill(config, sinks=[Sink()])

    recoveries = report["recoveries"]
    assert {r["fault"] for r in recoveries} == set(FAULT_KINDS)
    assert all(r["recovered"] for r in recoveries), recoveries
    by_fault = report["summary"]["by_fault"]
    assert set(by_fault) == set(FAULT_KINDS)
    assert by_fault["standby-death"]["escalations"] >= 1
    assert any(
        r["trigger"] for r in recoveries if r["fault"] in ("cascade", "concurrent")
    )
    # Hangs and slowness are seen by heartbeats, kills by the exit.
    for r in recoveries:
        if r["fault"] in ("hang", "slow"):
            assert r["detected_by"] in ("heartbeat", "phi"), r
    assert report["fencing"]["epochs_with_two_primaries"] == 0
    assert {"suspected", "recovered", "escalated"} <= set(events)
    for loss in report["data_loss"].values():
        assert loss["acked_writes"] > 0 and "rpo_writes_max" in loss
    effect = report["prediction"]["effect"]
    assert effect["predicted"]["count"] + effect["unpredicted"]["count"] == len(
        recoveries
    )
    assert 0 <= effect["preparations_wasted"] <= effect["preparations_made"]
    assert report["drains"]["enabled"] is True
    assert isinstance(report["summary"]["false_failovers"]["count"], int)
