"""The ``qnrecovery`` command line.

Start-up stays light: commands import the drill, the data and the backends
only when they run, so ``qnrecovery --help`` loads no Qiskit, Brian2 or Ocean.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qnrecovery._version import __version__
from qnrecovery.exceptions import QnRecoveryError

__all__ = ["app", "main"]

app = typer.Typer(
    name="qnrecovery",
    help="Predictive failure recovery with quantum, annealing, spiking and "
    "classical backends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        out.print(f"qnrecovery {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output.")
    ] = 0,
) -> None:
    """Predictive failure recovery toolkit."""
    level = (
        logging.WARNING
        if verbose == 0
        else (logging.INFO if verbose == 1 else logging.DEBUG)
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def run(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML or JSON settings file.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="ASD/SMD .npz file or folder, or NAB CSV or NAB root "
            "folder. Default: the bundled ASD sample."
        ),
    ] = None,
    components: Annotated[
        int | None, typer.Option(help="Number of components (default 4).")
    ] = None,
    backend: Annotated[
        list[str] | None,
        typer.Option("--backend", help="KIND=NAME, repeatable (e.g. placer=greedy)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="quantum (default) or classical.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            help="Replay acceleration over real time; default fits "
            "the replay into --duration."
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Replay wall time in seconds (default 60).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Fault kinds to inject in turn, comma-separated: kill, hang, "
            "slow, standby-death, cascade, concurrent (default kill,hang,slow). "
            "With --runtime ray: kill, node-graceful, node-hard, node-pause "
            "(default kill,node-graceful,node-hard; only kill with --address)."
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON here.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Timeline plot (PNG) to write (default qnrecovery-timeline.png)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    runtime: Annotated[
        str,
        typer.Option(
            help="local (OS processes) or ray (Ray actors on a Ray cluster; "
            "needs the 'ray' extra)."
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="With --runtime ray: address of an existing Ray cluster; "
            "default: a local cluster of three simulated nodes."
        ),
    ] = None,
) -> None:
    """Run a failover drill on real telemetry with real worker processes."""
    from qnrecovery.config import load_config, parse_backend_options
    from qnrecovery.exceptions import ConfigError

    if runtime not in ("local", "ray"):
        console.print(
            f"[red]error:[/red] unknown runtime {runtime!r}; use 'local' or 'ray'.",
            highlight=False,
        )
        raise typer.Exit(2)
    if address is not None and runtime != "ray":
        console.print("[red]error:[/red] --address needs --runtime ray.")
        raise typer.Exit(2)
    if runtime == "ray":
        replay_only = {
            "--data": data,
            "--profile": profile,
            "--speed": speed,
            "--duration": duration,
            "--plot": plot,
        }
        given = [flag for flag, value in replay_only.items() if value is not None]
        if given:
            console.print(
                f"[red]error:[/red] {', '.join(given)} only apply to the local "
                "runtime: the Ray drill injects faults into a key-value workload "
                "without a telemetry replay, predictions or a timeline plot. "
                "Choose its placer with --backend placer=NAME; its report is "
                "printed and written with --json.",
                highlight=False,
            )
            raise typer.Exit(2)
        _run_on_ray(
            config_file, components, backend, seed, faults, json_path, address, quiet
        )
        return

    plot = plot or Path("qnrecovery-timeline.png")
    try:
        if faults is not None:
            from qnrecovery.runtime.faults import parse_fault_kinds

            faults_list = parse_fault_kinds(faults)
        config = load_config(
            config_file,
            data=data,
            components=components,
            backends=parse_backend_options(backend or []) or None,
            profile=profile,
            speed=speed,
            duration_s=duration,
            seed=seed,
            faults=faults_list if faults is not None else None,
        )
        if config.data is not None and not config.data.exists():
            raise _data_missing(config.data)
        for output in (json_path, plot):
            if output is not None and not output.resolve().parent.is_dir():
                raise ConfigError(
                    f"Cannot write {output}: folder {output.resolve().parent} "
                    "does not exist."
                )
        # SIGTERM takes the same path as Ctrl-C, which stops every worker.
        signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
        report = _run_with_progress(config, quiet)
    except QnRecoveryError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        # The supervisor has stopped and reaped every worker by now.
        console.print("interrupted; every worker process was stopped")
        raise typer.Exit(130) from None

    from qnrecovery.plot import plot_timeline

    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_path = plot_timeline(report, plot)
    _print_summary(report)
    out.print(f"timeline plot: {plot_path}")
    if json_path is not None:
        out.print(f"report: {json_path}")
    unrecovered = report["summary"]["faults"] - report["summary"]["recovered"]
    if unrecovered:
        console.print(f"[red]{unrecovered} fault(s) were not recovered[/red]")
        raise typer.Exit(1)


def _run_on_ray(
    config_file: Path | None,
    components: int | None,
    backend: list[str] | None,
    seed: int | None,
    faults: str | None,
    json_path: Path | None,
    address: str | None,
    quiet: bool,
) -> None:
    """The drill on Ray actors (see :func:`qnrecovery.ray_runtime.run_ray_drill`)."""
    from qnrecovery.config import load_config, parse_backend_options

    try:
        from qnrecovery.ray_runtime import format_ray_report, run_ray_drill

        config = load_config(
            config_file,
            components=components,
            backends=parse_backend_options(backend or []) or None,
            seed=seed,
        )
        kinds = [k.strip() for k in faults.split(",") if k.strip()] if faults else None
        if json_path is not None and not json_path.resolve().parent.is_dir():
            from qnrecovery.exceptions import ConfigError

            raise ConfigError(
                f"Cannot write {json_path}: folder {json_path.resolve().parent} "
                "does not exist."
            )
        signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
        report = run_ray_drill(
            config,
            address,
            faults=kinds,
            progress=None if quiet else lambda line: console.print(line),
        )
    except QnRecoveryError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted; the Ray cluster was stopped")
        raise typer.Exit(130) from None

    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    # Plain text: node ids in brackets are not rich markup.
    out.print(format_ray_report(report), markup=False, highlight=False)
    if json_path is not None:
        out.print(f"report: {json_path}")
    unrecovered = sum(
        row["count"] - row["recovered"] for row in report["summary"]["tiers"].values()
    )
    if unrecovered:
        console.print(f"[red]{unrecovered} fault(s) were not recovered[/red]")
        raise typer.Exit(1)


def _data_missing(path: Path) -> QnRecoveryError:
    from qnrecovery.exceptions import DataError

    return DataError(f"Telemetry path {path} does not exist.")


def _run_with_progress(config: Any, quiet: bool) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from qnrecovery.drill import run_drill

    if quiet:
        return run_drill(config)
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>5.0f}/{task.total:<5.0f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: float, total: float) -> None:
            key = stage.split(":")[0]
            if key not in tasks:
                tasks[key] = progress.add_task(stage, total=total or 1)
            progress.update(
                tasks[key], description=stage, completed=done or 0, total=total or 1
            )

        report = run_drill(config, progress=update)
        for task in tasks.values():
            progress.update(task, completed=progress.tasks[task].total)
    return report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_summary(report: dict[str, Any]) -> None:
    backends = ", ".join(
        f"{kind}={b['name']}" + (f" (for {b['asked']})" if b["fallback"] else "")
        for kind, b in report["backends"].items()
    )
    out.print(f"backends: {backends}")
    table = Table(
        title="Recovery time in ms, from the fault to the new primary's first answer"
    )
    headers = ("tier", "faults", "p50", "p99", "max", "RTO", "met", "acked", "lost")
    for column in headers:
        table.add_column(
            column, justify="left" if column == "tier" else "right", no_wrap=True
        )
    for tier, row in report["summary"]["tiers"].items():
        loss = report["data_loss"][tier]
        table.add_row(
            tier,
            str(row["count"]),
            _fmt(row["p50_ms"]),
            _fmt(row["p99_ms"]),
            _fmt(row["max_ms"]),
            _fmt(row["objective_ms"], 0),
            "yes" if row["met"] else "[red]no[/red]",
            str(loss["acked_writes"]),
            str(loss["acked_writes_lost"]),
        )
    out.print(table)

    prediction = report["prediction"]
    strategies: dict[str, int] = {}
    for recovery in report["recoveries"]:
        key = recovery["strategy"] or "failed"
        strategies[key] = strategies.get(key, 0) + 1
    out.print(
        f"faults: {prediction['faults']} injected, "
        f"{report['summary']['recovered']} recovered "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(strategies.items()))}); "
        f"predicted ahead: {prediction['predicted']}; preparations: "
        f"{prediction['preparations']} ({prediction['preparations_unneeded']} "
        "never needed)"
    )
    out.print(f"predictor training: {report['components'][0]['training']}")
    out.print(f"drill took {report['duration_s']:.0f} s")


@app.command()
def backends(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Validate the configured quantum and annealing targets offline: "
            "credentials, QPU extra, device names. Exits 1 on any problem.",
        ),
    ] = False,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="YAML or JSON settings file (with --check)."),
    ] = None,
) -> None:
    """List the registered backends by kind, or check the configured targets."""
    if check:
        _check_targets(config_file)
        return

    from qnrecovery.registry import entries

    table = Table(title="Registered backends")
    for column in ("kind", "name", "class", "from"):
        table.add_column(column)
    for entry in entries():
        target = (
            entry.target if isinstance(entry.target, str) else entry.target.__name__
        )
        table.add_row(entry.kind, entry.name, target, entry.origin)
    out.print(table)


def _check_targets(config_file: Path | None) -> None:
    from qnrecovery.qpu.check import check_targets, load_targets

    try:
        lines = check_targets(load_targets(config_file))
    except QnRecoveryError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    for line in lines:
        (console if line.status == "problem" else out).print(
            str(line), highlight=False, markup=False, soft_wrap=True
        )
    if any(line.status == "problem" for line in lines):
        raise typer.Exit(1)


@app.command()
def bench(
    suites: Annotated[
        list[str] | None,
        typer.Argument(help="Suites to run (default: every available one)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Small sizes: a few minutes on a laptop.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of every suite.")] = 0,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default ./bench-results/<timestamp>)."
        ),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the suites and whether each can run.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    runtime: Annotated[
        str,
        typer.Option(
            help="local (every run in this process) or ray (each suite's "
            "independent runs as parallel Ray tasks; needs the 'ray' extra)."
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="With --runtime ray: an existing Ray cluster."),
    ] = None,
) -> None:
    """Benchmark each backend against its classical baseline: tables and plots."""
    from qnrecovery.bench.cli_bench import bench_command

    code = bench_command(
        suites,
        quick=quick,
        seed=seed,
        out=out_dir,
        list_only=list_only,
        quiet=quiet,
        runtime=runtime,
        address=address,
    )
    if code:
        raise typer.Exit(code)


@app.command()
def place(
    problem_file: Annotated[
        Path, typer.Argument(help="Placement problem, JSON or YAML.")
    ],
    placer: Annotated[
        str, typer.Option(help="Placer backend: annealing, milp, greedy, ...")
    ] = "annealing",
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", help="KEY=VALUE placer option, repeatable (num_reads=50)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="random_state of a seedable placer.")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the solution as JSON here.")
    ] = None,
) -> None:
    """Place standbys: print the assignment, objective and constraint slack."""
    from qnrecovery.annealing.cli_place import run_place

    try:
        feasible = run_place(problem_file, placer, option or [], seed, json_path, out)
    except QnRecoveryError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    if not feasible:
        raise typer.Exit(1)


@app.command()
def simulate(
    components: Annotated[int, typer.Option(help="Simulated components.")] = 1000,
    days: Annotated[float, typer.Option(help="Simulated days.")] = 7.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    profile: Annotated[
        str, typer.Option(help="Detector and predictor profile: classical or quantum.")
    ] = "classical",
    backend: Annotated[
        list[str] | None,
        typer.Option("--backend", help="KIND=NAME, repeatable (placer=greedy)."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON here.")
    ] = None,
    calibrate: Annotated[
        Path | None,
        typer.Option(help="Record the history, calibrate the thresholds, save here."),
    ] = None,
    target_waste_rate: Annotated[
        float, typer.Option(help="Calibration target: share of unneeded preparations.")
    ] = 0.5,
    forecast_cache: Annotated[
        Path | None,
        typer.Option(help="Keep the per-server forecasts in this .npz and reuse them."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="ASD/SMD .npz file or folder. Default: the bundled ASD."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Simulate a fleet over days of replayed failures; print its policy metrics."""
    from qnrecovery.config import parse_backend_options
    from qnrecovery.fleet.cli_simulate import run_simulate

    try:
        run_simulate(
            components=components,
            days=days,
            seed=seed,
            profile=profile,
            backends=parse_backend_options(backend or []),
            json_path=json_path,
            calibrate_path=calibrate,
            target_waste_rate=target_waste_rate,
            forecast_cache=forecast_cache,
            data=data,
            quiet=quiet,
            out=out,
            err=console,
        )
    except QnRecoveryError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None


def main() -> None:
    """Entry point of the ``qnrecovery`` script."""
    app()
