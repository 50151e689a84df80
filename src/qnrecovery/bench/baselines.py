"""The classical optimizers against each other, as a ``qnrecovery bench`` suite.

Runs :func:`qnrecovery.bench.optimizers.placement_suite` (``greedy`` against
the exact ``milp`` placer on random instances of growing size) and
:func:`qnrecovery.bench.optimizers.path_suite` (``exhaustive`` enumeration
against ``dijkstra`` on the bundled Abilene network), and draws the placers'
time and optimality gap against the instance size.

Examples
--------
>>> from pathlib import Path
>>> from qnrecovery.bench.baselines import run_suite
>>> report = run_suite(quick=True, seed=0, out=Path("out"))  # doctest: +SKIP
>>> print(report.table)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from qnrecovery.bench.harness import ComparisonResult, format_table
from qnrecovery.bench.runs import Run, RunExecutor, map_runs
from qnrecovery.bench.suite import Progress, SuiteReport, save_figure

__all__ = ["FULL_SIZES", "QUICK_SIZES", "run_suite"]

#: Placement instance sizes (services, hosts) of the full run.
FULL_SIZES = ((8, 8), (16, 12), (32, 16), (64, 24))
#: Placement instance sizes of a ``--quick`` run.
QUICK_SIZES = ((8, 8), (16, 12), (32, 16))


def _figures(result: ComparisonResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "candidate": result.candidate.label,
        "baseline": result.baseline.label,
        "candidate_median_s": result.candidate.median_s,
        "candidate_p90_s": result.candidate.p90_s,
        "baseline_median_s": result.baseline.median_s,
        "baseline_p90_s": result.baseline.p90_s,
        "time_ratio": result.ratio,
        "candidate_quality": result.candidate.score,
        "baseline_quality": result.baseline.score,
        "notes": result.notes,
    }


def _plot(
    sizes: tuple[tuple[int, int], ...], rows: list[ComparisonResult], out: Path
) -> list[Path]:
    from matplotlib.figure import Figure

    services = [n for n, _ in sizes]
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    time_axes, gap_axes = figure.subplots(1, 2)
    for side, marker in (("candidate", "o"), ("baseline", "s")):
        medians = [getattr(r, side).median_s * 1e3 for r in rows]
        label = getattr(rows[0], side).label
        time_axes.plot(services, medians, marker=marker, label=label)
    time_axes.set_yscale("log")
    time_axes.set_xlabel("services (one run solves every instance of a size)")
    time_axes.set_ylabel("median wall time per run, ms")
    time_axes.set_title("Placement time")
    time_axes.legend()

    mean_gap = [100 * float(r.notes.get("mean gap", math.nan)) for r in rows]
    max_gap = [100 * float(r.notes.get("max gap", math.nan)) for r in rows]
    gap_axes.plot(services, mean_gap, marker="o", label="mean")
    gap_axes.plot(services, max_gap, marker="^", label="largest")
    gap_axes.set_xlabel("services")
    gap_axes.set_ylabel("greedy above the MILP optimum, %")
    gap_axes.set_title("Greedy's gap to the optimum")
    gap_axes.legend()
    return save_figure(figure, out, "placement")


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    runs: RunExecutor | None = None,
) -> SuiteReport:
    """Time ``greedy`` against ``milp`` and ``exhaustive`` against ``dijkstra``.

    Parameters
    ----------
    quick : bool
        Three instance sizes, three instances per size and three timed runs
        per side instead of four sizes, ten instances and five runs.
    seed : int
        Seed of the random instances and of the failed nodes.
    out : Path
        Folder for the plots (``placement.png`` and ``placement.svg``).
    progress : callable, optional
        Called with a step description and the fraction done.
    runs : RunExecutor, optional
        Where the independent runs go (one per placement size, one for the
        paths; each times both of its sides); one after another in this
        process by default.

    Returns
    -------
    SuiteReport
        One table row per placement size and one for the path searchers.
    """
    from qnrecovery.bench.optimizers import path_suite, placement_suite

    sizes = QUICK_SIZES if quick else FULL_SIZES
    instances, repeats = (3, 3) if quick else (10, 5)
    report_progress = progress or (lambda _step, _fraction: None)

    # One generator per size (seed + index) keeps each size's instances
    # independent of which other sizes ran.
    work = [
        Run(
            f"placement {size[0]}x{size[1]}",
            placement_suite,
            {
                "sizes": (size,),
                "instances": instances,
                "repeats": repeats,
                "seed": seed + done,
            },
        )
        for done, size in enumerate(sizes)
    ]
    work.append(Run("paths on Abilene", path_suite, {"repeats": repeats, "seed": seed}))
    results = map_runs(work, runs, progress)
    placement: list[ComparisonResult] = [r for rows in results[:-1] for r in rows]
    paths: list[ComparisonResult] = results[-1]
    report_progress("plots", 1.0)

    plots = _plot(sizes, placement, out)
    rows = placement + paths
    return SuiteReport(
        name="baselines",
        table=format_table(rows),
        figures={
            "instances_per_size": instances,
            "repeats": repeats,
            "rows": [_figures(r) for r in rows],
        },
        plots=plots,
        notes=[
            "Classical baselines only: greedy placement against the exact MILP "
            "(HiGHS), exhaustive path enumeration against Dijkstra.",
            "Times are per run; one run solves every instance of the row. Time "
            "ratio = candidate median / baseline median (below 1: the candidate "
            "is faster).",
            "Quality = mean objective over feasible answers (lower is better); "
            "gap = (greedy - milp) / milp per instance.",
        ],
    )
