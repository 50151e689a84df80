"""Rich tables of a fleet simulation's report, for the command line."""

from __future__ import annotations

from typing import Any

from rich.table import Table

__all__ = ["report_tables"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _tier_table(report: dict[str, Any]) -> Table:
    table = Table(
        title="Simulated recovery time per tier (ms)",
        caption="h/w/c: recoveries by a hot, warm and cold standby",
        box=None,
        header_style="bold underline",
        pad_edge=False,
    )
    headers = ("tier", "faults", "h/w/c", "p50", "p95", "p99", "max")
    for column in (*headers, "RTO", "missed"):
        table.add_column(
            column, justify="left" if column == "tier" else "right", no_wrap=True
        )
    for tier, row in report["tiers"].items():
        used = row["strategies"]
        misses = row["objective_misses"]
        table.add_row(
            tier,
            str(row["faults"]),
            "/".join(str(used.get(k, 0)) for k in ("hot", "warm", "cold")),
            _fmt(row["p50_ms"]),
            _fmt(row["p95_ms"]),
            _fmt(row["p99_ms"]),
            _fmt(row["max_ms"]),
            _fmt(row["objective_ms"], 0),
            f"[red]{misses}[/red]" if misses else "0",
        )
    return table


def _policy_table(report: dict[str, Any]) -> Table:
    prediction = report["prediction"]
    standbys = report["standbys"]
    table = Table(title="Policy")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("faults (recovered / unrecovered)", f"{report['faults']} "
         f"({report['recovered']} / {report['unrecovered']})"),
        ("predicted within the horizon", f"{prediction['predicted']} "
         f"({_pct(prediction['recall'])})"),
        ("predictive-recovery rate (prepared at the fault)",
         _pct(prediction["predictive_recovery_rate"])),
        ("served by a standby a preparation added or made hot",
         str(prediction["served_by_prepared_standby"])),
        ("median lead time (s)", _fmt(prediction["lead_time_s_p50"], 0)),
        ("preparations", str(prediction["preparations"])),
        ("false preparations (never needed)", f"{prediction['false_preparations']} "
         f"({_pct(prediction['false_preparation_rate'])})"),
        ("preparations denied (no capacity)", str(standbys["denied"])),
        ("standby capacity in use (time average)", _pct(standbys["utilisation"])),
        ("  of which prepared ahead", _pct(standbys["prepared_share"])),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The per-tier recovery table and the policy table of a fleet report."""
    return [_tier_table(report), _policy_table(report)]
