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


def test_replica_names_carry_their_standby_kind(report: dict[str, Any]) -> None:
    replicas = [rec["new_primary"] for rec in report["recoveries"]]
    for comp in report["components"]["final"].values():
        replicas += [comp["primary"], *comp["standbys"]]
    assert {r["kind"] for r in replicas} >= {"hot", "warm", "cold"}
    for replica in replicas:
        assert replica["name"].split("#")[1].startswith(replica["kind"]), replica


def test_the_text_report_shows_nodes_tiers_and_suspicions(
    report: dict[str, Any],
) -> None:
    from qnrecovery.ray_runtime import format_ray_report

    text = format_ray_report(report)

    for name, comp in report["components"]["final"].items():
        node = comp["primary"]["node_id"][:8]
        assert f"{name} at the end: primary {comp['primary']['host']}[{node}]" in text
    for tier, row in report["summary"]["tiers"].items():
        assert any(
            line.split()[:2] == [tier, str(row["count"])]
            and line.split()[5] == ("yes" if row["met"] else "no")
            for line in text.splitlines()
        ), text
    assert f"suspicions: {report['false_alarms']} cleared" in text


def test_run_prints_every_node_id_of_the_report(
    report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qnrecovery run --runtime ray` prints the report as plain text: a node
    id in brackets is not taken for a style, even one that starts with a
    letter."""
    import copy

    from typer.testing import CliRunner

    import qnrecovery.ray_runtime
    from qnrecovery.cli import app

    shown = copy.deepcopy(report)
    primary = next(iter(shown["components"]["final"].values()))["primary"]
    primary["node_id"] = "deadbeef" + primary["node_id"][8:]
    monkeypatch.setattr(
        qnrecovery.ray_runtime, "run_ray_drill", lambda *args, **kwargs: shown
    )
    result = CliRunner().invoke(app, ["run", "--runtime", "ray", "--quiet"])

    assert result.exit_code == 0, result.output
    assert "[deadbeef]" in result.output
    for comp in report["components"]["initial"].values():
        assert f"[{comp['primary']['node_id'][:8]}]" in result.output
