"""The shape every benchmark suite shares, and how its results are written.

A suite is a function ``run_suite(*, quick, seed, out, progress=None,
runs=None)`` in a module of :mod:`qnrecovery.bench`, listed in
:data:`SUITES`. It measures a backend and its classical baseline in the same
run and returns a :class:`SuiteReport`. Its independent runs (seeds, sizes,
backends, files) go through the :class:`~qnrecovery.bench.runs.RunExecutor`
`runs`: one after another in this process by default, or as Ray tasks.
:func:`write_report` stores the report in ``out`` as ``results.json``
(figures, package versions, CPU, seed, command, runtime) and ``table.md``.
Plots the suite draws go to ``out`` too and are listed in the report.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from qnrecovery.exceptions import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qnrecovery.bench.runs import RunExecutor

__all__ = [
    "SUITES",
    "Progress",
    "SuiteReport",
    "SuiteRunner",
    "environment",
    "load_suite",
    "record_and_print",
    "save_figure",
    "write_report",
]

logger = logging.getLogger(__name__)

#: Called with a short description of the step and the fraction done (0..1).
Progress = Callable[[str, float], None]


class SuiteRunner(Protocol):
    def __call__(
        self,
        *,
        quick: bool,
        seed: int,
        out: Path,
        progress: Progress | None = None,
        runs: RunExecutor | None = None,
    ) -> SuiteReport: ...


#: Suite name -> ``"module:function"``. A suite whose module is missing is
#: reported as unavailable rather than failing the others.
SUITES: dict[str, str] = {
    "predictors": "qnrecovery.bench.predictors:run_suite",
    "kernel": "qnrecovery.bench.kernel:run_suite",
    "paths": "qnrecovery.bench.paths:run_suite",
    "placement": "qnrecovery.bench.placement:run_suite",
    "detectors": "qnrecovery.bench.detectors:run_suite",
    "recovery": "qnrecovery.bench.recovery:run_suite",
    "baselines": "qnrecovery.bench.baselines:run_suite",
}

#: Packages whose versions every results.json records.
_VERSIONED = (
    "qnrecovery",
    "numpy",
    "scipy",
    "scikit-learn",
    "networkx",
    "qiskit",
    "qiskit-aer",
    "qiskit-machine-learning",
    "dimod",
    "dwave-samplers",
    "brian2",
)


@dataclass
class SuiteReport:
    """What a suite measured.

    Attributes
    ----------
    name : str
        The suite's name (a key of :data:`SUITES`).
    table : str
        The Markdown table of the results, baseline rows included.
    figures : dict
        Every measured number, JSON-serialisable.
    plots : list of Path
        Plot files (PNG and SVG) the suite wrote.
    notes : list of str
        Sentences printed under the table: what the columns mean, which side
        won, what is not comparable.
    """

    name: str
    table: str
    figures: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def environment() -> dict[str, Any]:
    """Return the machine and package versions a result was measured with."""
    versions: dict[str, str | None] = {}
    for package in _VERSIONED:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine slows every timing; record how busy it was.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "packages": versions,
    }


def load_suite(name: str) -> SuiteRunner:
    """Return the ``run_suite`` function of suite `name`.

    Raises
    ------
    ConfigError
        If no suite has that name, or its module cannot be imported.
    """
    if name not in SUITES:
        raise ConfigError(
            f"Unknown benchmark suite {name!r}; choose from {', '.join(SUITES)}."
        )
    module_name, function_name = SUITES[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ConfigError(
                f"Benchmark suite {name!r} is not available: module "
                f"{module_name} is not part of this installation."
            ) from error
        raise ConfigError(
            f"Benchmark suite {name!r} is not available: {error}."
        ) from error
    except ImportError as error:
        raise ConfigError(
            f"Benchmark suite {name!r} is not available: {error}."
        ) from error
    runner = getattr(module, function_name, None)
    if not callable(runner):
        raise ConfigError(
            f"Benchmark suite {name!r} is not available: module {module_name} "
            f"has no {function_name}() yet."
        )
    return cast(SuiteRunner, runner)


def save_figure(figure: Figure, out: Path, stem: str) -> list[Path]:
    """Save `figure` as ``<stem>.png`` and ``<stem>.svg`` in `out`.

    Build the figure with :class:`matplotlib.figure.Figure` directly (not
    ``pyplot``), so no display and no global backend state are involved.

    Returns
    -------
    list of Path
        The PNG and the SVG written, in that order.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    figure.savefig(paths[0], dpi=120, bbox_inches="tight")
    figure.savefig(paths[1], bbox_inches="tight")
    return paths


def write_report(
    report: SuiteReport,
    out: Path,
    *,
    seed: int,
    quick: bool,
    command: str | None = None,
    elapsed_s: float | None = None,
    runtime: dict[str, Any] | None = None,
) -> Path:
    """Write ``results.json`` and ``table.md`` for `report` into `out`.

    `runtime` says where the suite's runs went (see
    :meth:`~qnrecovery.bench.runs.RunExecutor.describe`); local by default.

    Returns
    -------
    Path
        The ``results.json`` written.
    """
    out.mkdir(parents=True, exist_ok=True)
    command = command if command is not None else " ".join(sys.argv)

    results = {
        "suite": report.name,
        "seed": seed,
        "quick": quick,
        "command": command,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": elapsed_s,
        "runtime": runtime or {"runtime": "local"},
        "environment": environment(),
        "figures": report.figures,
        "plots": [
            str(path.relative_to(out)) if path.is_relative_to(out) else str(path)
            for path in report.plots
        ],
        "notes": report.notes,
    }
    results_path = out / "results.json"
    results_path.write_text(json.dumps(results, indent=2, default=str) + "\n")

    lines = [f"# Benchmark: {report.name}", "", f"Command: `{command}`", ""]
    lines += [report.table, ""]
    lines += [f"- {note}" for note in report.notes]
    (out / "table.md").write_text("\n".join(lines).rstrip() + "\n")

    logger.info("Wrote %s and table.md", results_path)
    return results_path


def script_main(name: str, description: str, argv: list[str] | None = None) -> int:
    """Command line of ``benchmarks/run_<name>.py``: run one suite, record it.

    Parses ``--quick``, ``--seed`` and ``--out`` (default
    ``benchmarks/results/<name>``), runs the suite, writes ``results.json``
    and ``table.md`` and prints the table with its notes.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="laptop-minute sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of every choice")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results") / name,
        help="folder for results.json, table.md and plots",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    report = load_suite(name)(quick=args.quick, seed=args.seed, out=args.out)
    command = "python " + " ".join(sys.argv if argv is None else ["-", *argv])
    record_and_print(
        report,
        args.out,
        seed=args.seed,
        quick=args.quick,
        command=command,
        elapsed_s=time.perf_counter() - started,
    )
    return 0


def record_and_print(
    report: SuiteReport,
    out: Path,
    *,
    seed: int,
    quick: bool,
    command: str,
    elapsed_s: float,
) -> None:
    """Write `report` into `out` (:func:`write_report`) and print it.

    What a benchmark script shows when a suite is done: the command, the
    machine, the table, the notes, the plots and the wall time.
    """
    write_report(
        report, out, seed=seed, quick=quick, command=command, elapsed_s=elapsed_s
    )

    machine = environment()
    lines = [
        f"command: {command}",
        f"machine: {machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"{machine['platform']}",
        "",
        report.table,
        "",
        *(f"- {note}" for note in report.notes),
        *(f"plot: {path}" for path in report.plots),
        f"took {elapsed_s:.0f} s",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
