"""Run a short failover drill from Python and read its report.

Two components (ultra-critical and critical) of the built-in replicated
key-value service, two SIGKILLs each, a six-second replay of the bundled ASD
telemetry, classical backends. Takes about 20 s.

Usage::

    python docs/examples/drill_from_python.py
"""

from __future__ import annotations

from qnrecovery.config import DrillConfig
from qnrecovery.drill import run_drill


def main() -> None:
    config = DrillConfig(
        components=2,
        duration_s=6,
        profile="classical",
        backends={"predictor": "logistic"},
        max_faults_per_component=2,
        seed=0,
    )
    report = run_drill(config)

    summary = report["summary"]
    print(f"faults: {summary['faults']} injected, {summary['recovered']} recovered")
    for tier, row in summary["tiers"].items():
        lost = report["data_loss"][tier]["acked_writes_lost"]
        print(
            f"{tier:>15}: p50 {row['p50_ms']:.1f} ms, max {row['max_ms']:.1f} ms "
            f"(objective {row['objective_ms']:.0f} ms, met: {row['met']}); "
            f"acknowledged writes lost: {lost}"
        )
    print(f"drill took {report['duration_s']:.0f} s")


if __name__ == "__main__":
    main()
