"""``qnrecovery bench``: run the benchmark suites and index their results.

:func:`run_benchmarks` runs the chosen suites of
:data:`qnrecovery.bench.suite.SUITES` one after another, each into its own
folder ``<out>/<suite>/`` (``results.json``, ``table.md`` and the suite's
plots), and writes ``<out>/index.md`` and ``<out>/summary.json`` over all of
them. A suite that raises is recorded as failed, with its traceback in
``<out>/<suite>/error.txt``, and the others still run. A suite whose module
does not exist yet, or has no ``run_suite``, is reported as unavailable.

:func:`bench_command` is the command-line front end: a progress bar, a
summary table, and the exit code.

Examples
--------
>>> from pathlib import Path
>>> from qnrecovery.bench.cli_bench import run_benchmarks
>>> outcomes = run_benchmarks(["baselines"], quick=True, seed=0,
...                           out=Path("bench-results/try"))  # doctest: +SKIP
>>> [o.status for o in outcomes]  # doctest: +SKIP
['ok']
"""

from __future__ import annotations

import json
import logging
import shlex
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qnrecovery.bench.runs import LocalRuns, RunExecutor
from qnrecovery.bench.suite import SUITES, environment, load_suite, write_report
from qnrecovery.exceptions import ConfigError

__all__ = [
    "SuiteAvailability",
    "SuiteOutcome",
    "bench_command",
    "default_out_dir",
    "resolve_suites",
    "run_benchmarks",
    "suite_availability",
    "write_index",
]

logger = logging.getLogger(__name__)

#: Called with the suite's name, a step description and the suite's fraction
#: done (0..1); 0 when a suite starts, 1 when it ends.
BenchProgress = Callable[[str, str, float], None]

Status = Literal["ok", "failed", "unavailable"]


@dataclass(frozen=True)
class SuiteAvailability:
    """Whether a suite can run here.

    Attributes
    ----------
    name : str
        The suite's name.
    target : str
        Its ``"module:function"``.
    available : bool
        True if the function could be imported.
    reason : str
        Why not, when it is unavailable; empty otherwise.
    """

    name: str
    target: str
    available: bool
    reason: str = ""


@dataclass
class SuiteOutcome:
    """How one suite's run went.

    Attributes
    ----------
    name : str
        The suite's name.
    status : {"ok", "failed", "unavailable"}
        ``ok`` if it ran and its results were written.
    out : Path
        The suite's folder under the run's output folder.
    elapsed_s : float or None
        Wall time of the suite, including writing its results.
    message : str
        The error of a failed suite, or why it is unavailable.
    table : str
        The suite's Markdown table (empty unless ``ok``).
    plots : list of Path
        The plot files it wrote.
    notes : list of str
        The notes printed under its table.
    """

    name: str
    status: Status
    out: Path
    elapsed_s: float | None = None
    message: str = ""
    table: str = ""
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def suite_availability(name: str) -> SuiteAvailability:
    """Check whether suite `name` can be imported, without running it.

    Raises
    ------
    ConfigError
        If no suite has that name.
    """
    resolve_suites([name])
    try:
        load_suite(name)
    except ConfigError as error:
        return SuiteAvailability(name, SUITES[name], False, str(error))
    return SuiteAvailability(name, SUITES[name], True)


def resolve_suites(names: Sequence[str] | None) -> list[str]:
    """Validate suite names; ``None`` or empty means every suite.

    Duplicates are dropped, the order given is kept.

    Raises
    ------
    ConfigError
        Naming every unknown suite and the known ones.
    """
    if not names:
        return list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise ConfigError(
            f"Unknown benchmark suite(s) {', '.join(map(repr, unknown))}; choose "
            f"from {', '.join(SUITES)} (see `qnrecovery bench --list`)."
        )
    return list(dict.fromkeys(names))


def default_out_dir(now: float | None = None) -> Path:
    """``bench-results/<YYYYmmdd-HHMMSS>`` under the current folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path("bench-results") / stamp


def run_benchmarks(
    names: Sequence[str] | None,
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: BenchProgress | None = None,
    command: str | None = None,
    runtime: str = "local",
    address: str | None = None,
) -> list[SuiteOutcome]:
    """Run suites into `out`, one folder each, and write the index.

    Parameters
    ----------
    names : sequence of str or None
        Suites to run; ``None`` or empty runs every suite, and those that
        are unavailable are recorded as such.
    quick : bool
        Passed to every suite: the small sizes.
    seed : int
        Passed to every suite.
    out : Path
        Output folder; created if needed.
    progress : callable, optional
        ``progress(suite, step, fraction)``.
    command : str, optional
        The command line recorded in every ``results.json``.
    runtime : {"local", "ray"}, default="local"
        ``ray`` runs the suites one after another and spreads each suite's
        independent runs (seeds, sizes, backends, files) over Ray tasks on a
        local Ray instance, or on the cluster at `address`, whose nodes must
        have qnrecovery installed and see the shared data folder. The
        results equal the local ones, since every run takes its random
        choices from its own arguments; wall times differ, because runs
        share the cluster's cores.
    address : str, optional
        An existing Ray cluster, for ``runtime="ray"``.

    Returns
    -------
    list of SuiteOutcome
        One per suite, in the order run.

    Raises
    ------
    ConfigError
        If a name is unknown (before anything runs) or `out` cannot be
        created.
    """
    chosen = resolve_suites(names)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"Cannot create the output folder {out}: {error.strerror}; pass "
            "another folder with --out."
        ) from error
    if command is None:
        command = _command(names, quick, seed, out, runtime, address)
    notify = progress or (lambda _suite, _step, _fraction: None)

    if runtime == "ray":
        return _run_on_ray(chosen, quick, seed, out, command, notify, address)
    if runtime != "local":
        raise ConfigError(f"Unknown runtime {runtime!r}; use 'local' or 'ray'.")

    outcomes = []
    for name in chosen:
        notify(name, "starting", 0.0)
        outcome = _run_one(
            name, quick=quick, seed=seed, out=out, command=command, notify=notify
        )
        notify(name, outcome.status, 1.0)
        outcomes.append(outcome)
        # Rewritten after every suite, so an interrupted run keeps its index.
        write_index(outcomes, out, seed=seed, quick=quick, command=command)

    return outcomes


def _run_on_ray(
    chosen: Sequence[str],
    quick: bool,
    seed: int,
    out: Path,
    command: str,
    notify: BenchProgress,
    address: str | None,
) -> list[SuiteOutcome]:
    """Suites one after another, each one's runs spread over Ray tasks."""
    from qnrecovery.bench.runs import RayRuns

    outcomes = []
    with RayRuns(address) as executor:
        executor.describe()  # connect now: a bad address fails before any suite
        for name in chosen:
            notify(name, "starting", 0.0)
            outcome = _run_one(
                name,
                quick=quick,
                seed=seed,
                out=out,
                command=command,
                notify=notify,
                executor=executor,
            )
            notify(name, outcome.status, 1.0)
            outcomes.append(outcome)
            write_index(outcomes, out, seed=seed, quick=quick, command=command)
    return outcomes


def _run_one(
    name: str,
    *,
    quick: bool,
    seed: int,
    out: Path,
    command: str,
    notify: BenchProgress,
    executor: RunExecutor | None = None,
) -> SuiteOutcome:
    executor = executor if executor is not None else LocalRuns()
    folder = out / name
    try:
        runner = load_suite(name)
    except ConfigError as error:
        logger.info("Suite %s is unavailable: %s", name, error)
        return SuiteOutcome(name, "unavailable", folder, message=str(error))

    started = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        report = runner(
            quick=quick,
            seed=seed,
            out=folder,
            progress=lambda step, fraction: notify(name, step, fraction),
            runs=executor,
        )
        elapsed = time.perf_counter() - started
        write_report(
            report,
            folder,
            seed=seed,
            quick=quick,
            command=command,
            elapsed_s=elapsed,
            runtime=executor.describe(),
        )
    except Exception as error:  # one suite's failure must not stop the others
        elapsed = time.perf_counter() - started
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        logger.error("Suite %s failed after %.1f s: %s", name, elapsed, error)
        return SuiteOutcome(
            name,
            "failed",
            folder,
            elapsed,
            message=f"{type(error).__name__}: {error}",
        )
    return SuiteOutcome(
        name,
        "ok",
        folder,
        time.perf_counter() - started,
        table=report.table,
        plots=list(report.plots),
        notes=list(report.notes),
    )


def _command(
    names: Sequence[str] | None,
    quick: bool,
    seed: int,
    out: Path,
    runtime: str = "local",
    address: str | None = None,
) -> str:
    words = ["qnrecovery", "bench", *(names or [])]
    words += ["--quick"] if quick else []
    words += ["--seed", str(seed), "--out", str(out)]
    words += ["--runtime", runtime] if runtime != "local" else []
    words += ["--address", address] if address is not None else []
    return shlex.join(words)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def write_index(
    outcomes: Sequence[SuiteOutcome],
    out: Path,
    *,
    seed: int,
    quick: bool,
    command: str,
) -> Path:
    """Write ``index.md`` and ``summary.json`` over the suites of one run.

    ``index.md`` has one status row per suite, then each finished suite's
    table, notes and plots (PNG, linked relative to `out`).

    Returns
    -------
    Path
        The ``index.md`` written.
    """
    env = environment()
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Size: {'quick' if quick else 'full'}; seed {seed}; Python "
        f"{env['python']} on {env['platform']}, {env['cpu_count']} CPUs"
        f"{_load(env)}; "
        f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| suite | status | time s | results |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        elapsed = "-" if o.elapsed_s is None else f"{o.elapsed_s:.1f}"
        if o.status == "ok":
            where = f"[table]({o.name}/table.md), [json]({o.name}/results.json)"
        elif o.status == "failed":
            where = f"[error]({o.name}/error.txt): {_cell(o.message)}"
        else:
            where = _cell(o.message)
        lines.append(f"| {o.name} | {o.status} | {elapsed} | {where} |")

    for o in outcomes:
        if o.status != "ok":
            continue
        lines += ["", f"## {o.name}", "", o.table, ""]
        lines += [f"- {note}" for note in o.notes]
        for plot in o.plots:
            if plot.suffix == ".png":
                rel = _relative(plot, out)
                lines += ["", f"![{o.name}: {plot.stem}]({rel})"]

    index = out / "index.md"
    index.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    summary: dict[str, Any] = {
        "command": command,
        "seed": seed,
        "quick": quick,
        "environment": env,
        "suites": [
            {
                "name": o.name,
                "status": o.status,
                "elapsed_s": o.elapsed_s,
                "message": o.message,
                "folder": _relative(o.out, out),
                "plots": [_relative(p, out) for p in o.plots],
            }
            for o in outcomes
        ],
    }
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return index


def _load(env: dict[str, Any]) -> str:
    load = env.get("load_average")
    return f" (load average {load[0]:.1f} at the end)" if load else ""


def _cell(text: str) -> str:
    """`text` made safe for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def bench_command(
    names: Sequence[str] | None,
    *,
    quick: bool,
    seed: int,
    out: Path | None,
    list_only: bool,
    quiet: bool,
    runtime: str = "local",
    address: str | None = None,
) -> int:
    """Run ``qnrecovery bench`` and return its exit code.

    0 if every suite run finished, 1 if one failed, a suite named on the
    command line is unavailable, or none is available; 2 for a usage error
    (unknown suite, output folder that cannot be created).
    """
    from rich.console import Console
    from rich.markup import escape

    console, stdout = Console(stderr=True), Console()
    try:
        chosen = resolve_suites(names)
    except ConfigError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return 2
    if list_only:
        _print_list([suite_availability(n) for n in chosen], stdout)
        return 0

    target = out if out is not None else default_out_dir()
    try:
        if quiet:
            outcomes = run_benchmarks(
                names,
                quick=quick,
                seed=seed,
                out=target,
                runtime=runtime,
                address=address,
            )
        else:
            outcomes = _run_with_bar(
                names, len(chosen), quick, seed, target, console, runtime, address
            )
    except ConfigError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return 2

    _print_outcomes(outcomes, stdout)
    stdout.print(f"index: {target / 'index.md'}")
    explicit = bool(names)
    failed = [o.name for o in outcomes if o.status == "failed"]
    missing = [o.name for o in outcomes if o.status == "unavailable"]
    if failed:
        console.print(f"[red]failed:[/red] {', '.join(failed)}", highlight=False)
    if explicit and missing:
        console.print(f"[red]unavailable:[/red] {', '.join(missing)}", highlight=False)
    if not any(o.status == "ok" for o in outcomes) and not failed:
        console.print("[red]no suite could run[/red]")
        return 1
    return 1 if failed or (explicit and missing) else 0


def _run_with_bar(
    names: Sequence[str] | None,
    total: int,
    quick: bool,
    seed: int,
    out: Path,
    console: Any,
    runtime: str = "local",
    address: str | None = None,
) -> list[SuiteOutcome]:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        overall = bar.add_task(f"suites (0/{total})", total=total)
        tasks: dict[str, TaskID] = {}
        done: list[str] = []

        def update(suite: str, step: str, fraction: float) -> None:
            if suite not in tasks:
                tasks[suite] = bar.add_task(suite, total=1.0)
            finished = fraction >= 1.0 and step in ("ok", "failed", "unavailable")
            label = f"{suite}: {step}"
            bar.update(
                tasks[suite],
                description=label[:40],
                completed=min(max(fraction, 0.0), 1.0),
            )
            if finished and suite not in done:
                done.append(suite)
                bar.update(
                    overall,
                    completed=len(done),
                    description=f"suites ({len(done)}/{total})",
                )

        return run_benchmarks(
            names,
            quick=quick,
            seed=seed,
            out=out,
            progress=update,
            runtime=runtime,
            address=address,
        )


def _print_list(rows: list[SuiteAvailability], stdout: Any) -> None:
    from rich.table import Table

    table = Table(title="Benchmark suites")
    for column in ("suite", "status", "why not"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.name,
            "available" if row.available else "[yellow]unavailable[/yellow]",
            _short(row.name, row.reason),
        )
    stdout.print(table)


def _print_outcomes(outcomes: list[SuiteOutcome], stdout: Any) -> None:
    from rich.table import Table

    colour = {"ok": "green", "failed": "red", "unavailable": "yellow"}
    table = Table(title="Benchmark run")
    for column in ("suite", "status", "time s", "output or reason"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        table.add_row(
            o.name,
            f"[{colour[o.status]}]{o.status}[/{colour[o.status]}]",
            "-" if o.elapsed_s is None else f"{o.elapsed_s:.1f}",
            str(o.out) if o.status == "ok" else _short(o.name, o.message),
        )
    stdout.print(table)


def _short(name: str, reason: str) -> str:
    """`reason` without the suite-name preamble the table already shows."""
    return reason.removeprefix(f"Benchmark suite {name!r} is not available: ")
