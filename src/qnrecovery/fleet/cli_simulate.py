"""What ``qnrecovery simulate`` does, apart from parsing its options."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from qnrecovery.config import PlannerConfig
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.fleet.config import FleetConfig
from qnrecovery.fleet.sim import simulate_fleet
from qnrecovery.fleet.tables import report_tables

__all__ = ["run_simulate"]


def run_simulate(
    *,
    components: int,
    days: float,
    seed: int,
    profile: str,
    backends: dict[str, str],
    json_path: Path | None,
    calibrate_path: Path | None,
    forecast_cache: Path | None,
    data: Path | None = None,
    target_waste_rate: float,
    quiet: bool,
    out: Console,
    err: Console,
) -> dict[str, Any]:
    """Run a fleet simulation, print its tables and write what was asked.

    Raises
    ------
    ConfigError, DataError, BackendNotFoundError
        On bad options or data, before the simulation starts.
    """
    for output in (json_path, calibrate_path, forecast_cache):
        if output is not None and not output.resolve().parent.is_dir():
            raise ConfigError(
                f"Cannot write {output}: folder {output.resolve().parent} does "
                "not exist."
            )
    config = FleetConfig(
        components=components,
        days=days,
        seed=seed,
        profile=profile,
        backends=backends,
        planner=PlannerConfig(),
        forecast_cache=forecast_cache,
        data=data,
    )
    config.check()
    if data is not None and not data.exists():
        raise DataError(f"Telemetry path {data} does not exist.")

    recorder = None
    if calibrate_path is not None:
        from qnrecovery.orchestrator.calibration import CalibrationRecorder

        recorder = CalibrationRecorder(
            calibrate_path, target_waste_rate=target_waste_rate
        )
    started = time.perf_counter()
    report = _simulate(config, [recorder] if recorder else [], quiet, err)
    report["timings"]["wall_s"] = time.perf_counter() - started

    for table in report_tables(report):
        out.print(table)
    timings = report["timings"]
    out.print(
        f"{config.components} components, {config.days:g} simulated days, "
        f"{report['faults']} faults from {', '.join(report['servers'])}; "
        f"detector={report['backends']['detector']['name']}, "
        f"predictor={report['backends']['predictor']['name']}, "
        f"placer={report['backends']['placer']['name']}"
    )
    out.print(
        f"took {timings['wall_s']:.1f} s (forecast {timings['forecast_s']:.1f} s, "
        f"placement {timings['placement_s']:.1f} s, "
        f"simulation {timings['simulation_s']:.1f} s)"
    )
    if recorder is not None:
        report["calibration"] = _calibrate(recorder, report, out)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        out.print(f"report: {json_path}")
    return report


def _simulate(
    config: FleetConfig, sinks: list[Any], quiet: bool, err: Console
) -> dict[str, Any]:
    if quiet:
        return simulate_fleet(config, sinks=sinks)
    with err.status("simulating the fleet") as status:

        def progress(stage: str, done: float, total: float) -> None:
            status.update(f"{stage} ({done:.0f}/{total:.0f})" if total else stage)

        return simulate_fleet(config, sinks=sinks, progress=progress)


def _calibrate(recorder: Any, report: dict[str, Any], out: Console) -> dict[str, Any]:
    horizon_s = report["config"]["planner"]["horizon_rows"] * report["interval_s"]
    recorder.horizon_s = horizon_s
    recorder.close()
    result = recorder.calibration
    out.print(
        f"calibration: prepare={result.prepare:.2f} immediate={result.immediate:.2f} "
        f"(waste {_pct(result.waste_rate)} for a target of "
        f"{_pct(result.target_waste_rate)}, recall {_pct(result.recall)}"
        f"{'' if result.met else '; target not met: ' + result.note}); "
        f"written to {recorder.path}"
    )
    return dict(result.to_dict())


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"
