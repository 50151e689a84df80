"""`run_ray_drill` on its own local three-node cluster, with every tier."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    pytest.importorskip("ray")
    from qnrecovery.config import DrillConfig
    from qnrecovery.ray_runtime.drill import run_ray_drill

    config = DrillConfig(components=4, heartbeat_ms=25.0, heartbeat_misses=4)
    return run_ray_drill(
        config, faults=["kill", "node-hard"], write_rate=20.0, ray_trials=1
    )


def test_report_names_runtime_and_nodes(report: dict[str, Any]) -> None:
    assert report["runtime"] == "ray"
    hosts = report["ray"]["hosts"]
    initial = report["components"]["initial"]
    assert {c["tier"] for c in initial.values()} == {
        "ultra-critical",
        "critical",
        "important",
        "standard",
    }
    for comp in initial.values():
        primary = comp["primary"]
        assert hosts[primary["host"]] == primary["node_id"]
        assert comp["standbys"], comp
        for standby in comp["standbys"]:
            assert standby["host"] != primary["host"]
            assert hosts[standby["host"]] == standby["node_id"]


def test_every_fault_recovered_without_losing_hot_writes(
    report: dict[str, Any],
) -> None:
    recs = report["recoveries"]
    assert {r["fault"] for r in recs} == {"kill", "node-hard"}
    assert len([r for r in recs if r["fault"] == "kill"]) == 4
    for rec in recs:
        assert rec["recovery_ms"] is not None, rec
        assert rec["new_primary"]["host"] != rec["old_primary"]["host"]
    for tier in ("ultra-critical", "critical"):
        loss = report["data_loss"][tier]
        assert loss["acked_writes"] > 0
        assert loss["acked_writes_lost"] == 0
    assert set(report["summary"]["tiers"]) == {
        "ultra-critical",
        "critical",
        "important",
        "standard",
    }


def test_ray_baseline_measured_in_the_same_run(report: dict[str, Any]) -> None:
    runs = report["ray_baseline"]["restart_without_retries"]
    assert runs and runs[0]["ms"] is not None
    assert runs[0]["state_kept"] is False
