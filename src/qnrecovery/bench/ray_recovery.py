"""Recovery on Ray: the orchestrator's takeover against Ray's own recovery.

One run on a local cluster of three simulated nodes, with the ``ray`` extra:
two components with hot standbys (``ultra-critical`` and ``critical``) under a
client load, faults of three kinds (SIGKILL of a primary actor's process,
graceful removal of its node, hard removal of its node), and in the same run
Ray's own recovery of an actor: restart after SIGKILL with and without task
retries, and how long Ray takes to declare a hard-removed node dead.

The qnrecovery figure is the time from the fault to the first client write
the new primary acknowledged. Ray's restart figure is the time from SIGKILL to
the first answered call, and the restarted actor has lost its state.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from qnrecovery.bench.suite import Progress, SuiteReport

__all__ = ["format_ray_recovery", "run_suite"]

_FAULTS = ("kill", "node-graceful", "node-hard")


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    heartbeat_ms: float = 10.0,
    misses: int = 3,
    confirm_ms: float = 50.0,
) -> SuiteReport:
    """Run the Ray recovery benchmark.

    Parameters
    ----------
    quick : bool
        One round (2 kills, 1 graceful and 1 hard node removal) and 2 timings
        of Ray's restart each way; otherwise 3 rounds and 5 timings.
    seed : int
        Recorded; the schedule is fixed.
    out : Path
        Folder of the results (the drill report goes to ``drill.json``).
    progress : callable, optional
        Called with a step description and the fraction done.
    heartbeat_ms, misses, confirm_ms : float, int, float
        The controller's heartbeat period, lease length in periods, and the
        last ping a suspected primary gets before a standby is promoted.

    Returns
    -------
    SuiteReport
    """
    import json

    from qnrecovery.config import DrillConfig
    from qnrecovery.ray_runtime.drill import run_ray_drill

    rounds, trials = (1, 2) if quick else (3, 5)
    config = DrillConfig(
        components=2,
        tiers=["ultra-critical", "critical"],
        heartbeat_ms=heartbeat_ms,
        heartbeat_misses=misses,
        seed=seed,
    )
    steps = 0

    def say(line: str) -> None:
        nonlocal steps
        steps += 1
        if progress is not None:
            progress(line, min(0.99, steps / (8.0 * rounds + 6)))

    report = run_ray_drill(
        config,
        faults=list(_FAULTS),
        rounds=rounds,
        ray_trials=trials,
        write_rate=50.0,
        confirm_ms=confirm_ms,
        node_dead_wait_s=60.0,
        progress=say,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "drill.json").write_text(json.dumps(report, indent=1, default=str))
    figures = _figures(report)
    notes = [
        "qnrecovery: fault to the first client write acknowledged by the new "
        "primary (hot standby on another node); detection by the controller's "
        f"heartbeats ({report['heartbeat_ms']:.0f} ms, lease "
        f"{report['lease_ms']:.0f} ms, then one ping of up to "
        f"{report['confirm_ms']:.0f} ms) or Ray's actor-death "
        "error, whichever came first.",
        "Ray: SIGKILL to the first answered call of a restarted actor "
        "(max_restarts=-1), in the same run; its state is gone. For a hard node "
        "loss Ray restarts nothing until it declares the node dead.",
        f"Machine load average at the end: {figures['load_average']}; other work "
        "shared the two cores.",
    ]
    return SuiteReport(
        name="ray-recovery",
        table=format_ray_recovery(figures),
        figures=figures,
        notes=notes,
    )


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50_ms": None, "max_ms": None}
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 1),
        "max_ms": round(max(values), 1),
    }


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    import os

    rows: dict[str, Any] = {}
    for fault in _FAULTS:
        recs = [r for r in report["recoveries"] if r["fault"] == fault]
        times = [r["recovery_ms"] for r in recs if r["recovery_ms"] is not None]
        rows[fault] = {
            **_stats(times),
            "faults": len(recs),
            "detect_p50_ms": _stats([r["detect_ms"] for r in recs if r["detect_ms"]])[
                "p50_ms"
            ],
            "detected_by": sorted({r["detected_by"] for r in recs}),
            "strategies": sorted({str(r["strategy"]) for r in recs}),
        }
    baseline = report.get("ray_baseline", {})
    ray_rows = {}
    for key, runs in baseline.items():
        ms = [r["ms"] for r in runs if r["ms"] is not None]
        ray_rows[key] = {
            **_stats(ms),
            "trials": len(runs),
            "state_kept": sorted({str(r["state_kept"]) for r in runs}),
        }
    dead = [
        d["declared_dead_after_s"] * 1000.0
        for d in report.get("ray_node_death", [])
        if d["declared_dead_after_s"] is not None
    ]
    lost = sum(t["acked_writes_lost"] for t in report["data_loss"].values())
    acked = sum(t["acked_writes"] for t in report["data_loss"].values())
    return {
        "qnrecovery": rows,
        "ray": ray_rows,
        "ray_node_declared_dead": {
            **_stats(dead),
            "waits": len(report.get("ray_node_death", [])),
        },
        "acked_writes": acked,
        "acked_writes_lost": lost,
        "false_alarms": report.get("false_alarms", 0),
        "unprovoked_failovers": len(report.get("unprovoked_failovers", [])),
        "write_rate_total": report["write_rate"]["measured_total"],
        "ray_version": report["ray"]["version"],
        "heartbeat_ms": report["heartbeat_ms"],
        "lease_ms": report["lease_ms"],
        "confirm_ms": report["confirm_ms"],
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "elapsed_s": report["elapsed_s"],
    }


def format_ray_recovery(figures: dict[str, Any]) -> str:
    """The Markdown table: one row per fault kind, then Ray's own rows."""

    def cell(value: Any) -> str:
        return "-" if value is None else f"{value}"

    lines = [
        "| fault | recovered by | n | p50 ms | max ms | detected by "
        "| acked writes lost (whole run) |",
        "|---|---|---|---|---|---|---|",
    ]
    lost = f"{figures['acked_writes_lost']} of {figures['acked_writes']}"
    for fault, row in figures["qnrecovery"].items():
        lines.append(
            f"| {fault} | qnrecovery standby ({'/'.join(row['strategies'])}) "
            f"| {row['n']}/{row['faults']} | {cell(row['p50_ms'])} "
            f"| {cell(row['max_ms'])} | {', '.join(row['detected_by'])} | {lost} |"
        )
    for key, row in figures["ray"].items():
        label = key.replace("_", " ")
        lines.append(
            f"| kill | Ray actor {label} | {row['n']}/{row['trials']} "
            f"| {cell(row['p50_ms'])} | {cell(row['max_ms'])} | Ray "
            f"| state kept: {'/'.join(row['state_kept'])} |"
        )
    dead = figures["ray_node_declared_dead"]
    lines.append(
        f"| node-hard | Ray declares the node dead | {dead['n']}/{dead['waits']} "
        f"| {cell(dead['p50_ms'])} | {cell(dead['max_ms'])} | Ray health checks "
        "| - |"
    )
    lines.append("")
    lines.append(
        f"Heartbeat {figures['heartbeat_ms']:.0f} ms, lease {figures['lease_ms']:.0f} "
        f"ms, last ping {figures['confirm_ms']:.0f} ms; false alarms (the suspected "
        f"primary answered the last ping): {figures['false_alarms']}; failovers "
        f"without an injected fault: {figures['unprovoked_failovers']}; "
        f"acknowledged writes: {figures['write_rate_total']}/s in all."
    )
    return "\n".join(lines)
