"""The ``annealing`` placer against the exact MILP, with its ablations.

On seeded random instances (:func:`qnrecovery.bench.optimizers.random_placement`)
of growing size, every instance is solved by:

- ``milp`` — the exact optimum (HiGHS via SciPy), the reference for every gap;
- ``annealing`` — the default annealing placer (domain-wall BQM, simulated
  annealing, repair and local search);
- ``annealing, raw`` — the same run's best feasible sample before repair and
  its share of feasible samples (no extra run: taken from the run's ``info``);
- ``annealing, one-hot`` — the same with a one-hot encoding instead of the
  domain wall;
- ``greedy`` — the greedy baseline placer;
- ``greedy + repair/local search`` — the annealer's repair and local search
  started from the greedy placement, without any annealing;
- ``cqm_to_bqm, raw`` — the plain conversion of the same CQM by
  :func:`dimod.cqm_to_bqm` (one-hot choices, slack bits for capacity, dimod's
  default penalty), sampled with the same reads and sweeps and no repair;
  only up to ``NAIVE_LIMIT`` services, since its BQM grows fast.

The annealer is also run at growing budgets (reads x sweeps) on one size, and
its gap is plotted against its wall time, beside the MILP's time.

The instances are drawn in the calling process; every method on every
instance (and every budget on every instance) is then an independent run of
a :class:`~qnrecovery.bench.runs.RunExecutor`, seeded from its arguments
alone, and the gaps to the MILP optimum are computed once all runs are back.

Examples
--------
>>> from pathlib import Path
>>> from qnrecovery.bench.placement import run_suite
>>> out = Path("bench-results/placement")
>>> report = run_suite(quick=True, seed=0, out=out)  # doctest: +SKIP
>>> print(report.table)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.bench.harness import ComparisonResult, compare, format_table
from qnrecovery.bench.optimizers import random_placement
from qnrecovery.bench.runs import Run, RunExecutor, map_runs
from qnrecovery.bench.suite import Progress, SuiteReport, save_figure
from qnrecovery.interfaces import PlacementProblem, PlacementSolution

__all__ = [
    "FULL_SIZES",
    "QUICK_SIZES",
    "budget_curve",
    "compare_methods",
    "run_suite",
]

FULL_SIZES: tuple[tuple[int, int], ...] = (
    (10, 5),
    (20, 8),
    (50, 12),
    (100, 20),
    (200, 50),
)
QUICK_SIZES: tuple[tuple[int, int], ...] = ((10, 5), (20, 8), (50, 12))
BUDGETS: tuple[tuple[int, int], ...] = (
    (2, 50),
    (5, 100),
    (10, 200),
    (20, 500),
    (50, 1000),
)

METHODS = (
    "milp",
    "annealing",
    "annealing, raw",
    "annealing, one-hot",
    "greedy",
    "greedy + repair/local search",
    "cqm_to_bqm, raw",
)

#: Largest number of services the plain ``cqm_to_bqm`` row is run for.
NAIVE_LIMIT = 50


def _plain_conversion(problem: PlacementProblem, seed: int) -> PlacementSolution:
    """The CQM through ``dimod.cqm_to_bqm`` and simulated annealing, no repair."""
    import warnings

    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    from qnrecovery.annealing.model import PlacementIndex, build_cqm

    start = time.perf_counter()
    index = PlacementIndex.build(problem)
    cqm = build_cqm(index)
    with warnings.catch_warnings():
        # dimod suggests scaling fractional capacities; the plain route does not.
        warnings.simplefilter("ignore", UserWarning)
        bqm, invert = dimod.cqm_to_bqm(cqm)
    # Slack variables get random names; number the variables in insertion
    # order so the same seed gives the same samples in every process.
    labels = list(bqm.variables)
    numbered = bqm.relabel_variables(
        {label: i for i, label in enumerate(labels)}, inplace=False
    )
    sampleset = SimulatedAnnealingSampler().sample(
        numbered, num_reads=20, num_sweeps=500, seed=seed
    )
    samples = [
        invert({labels[i]: value for i, value in sample.items()})
        for sample in sampleset.samples()
    ]
    feasible = [s for s in samples if cqm.check_feasible(s)]
    info = {
        "wall_time_s": time.perf_counter() - start,
        "feasible_share": len(feasible) / len(samples),
        "variables": bqm.num_variables,
    }
    if not feasible:
        return PlacementSolution(False, math.inf, info)
    best = min(feasible, key=cqm.objective.energy)
    return PlacementSolution(True, float(cqm.objective.energy(best)), info)


def _greedy_then_search(problem: PlacementProblem) -> PlacementSolution:
    """Greedy, then the annealer's repair and local search: no annealing."""
    from qnrecovery.annealing.model import PlacementIndex
    from qnrecovery.annealing.repair import local_search
    from qnrecovery.registry import backend

    start = time.perf_counter()
    greedy = backend("placer", "greedy").place(problem)
    if not greedy.feasible:
        return greedy
    index = PlacementIndex.build(problem)
    chosen, moves = local_search(index, index.chosen(greedy.assignment))
    assignment = index.assignment(chosen)
    info = {"wall_time_s": time.perf_counter() - start, "moves": moves}
    return PlacementSolution(True, problem.objective(assignment), info, assignment)


def _solver(method: str, seed: int) -> Callable[[PlacementProblem], PlacementSolution]:
    """The placer of `method`, seeded from `seed` alone."""
    from qnrecovery.registry import backend

    if method == "annealing":
        return backend("placer", "annealing", random_state=seed).place
    if method == "annealing, one-hot":
        return backend(
            "placer", "annealing", random_state=seed, encoding="one-hot"
        ).place
    if method == "greedy + repair/local search":
        return _greedy_then_search
    if method == "cqm_to_bqm, raw":
        return functools.partial(_plain_conversion, seed=seed)
    return backend("placer", method).place


def _timed(
    solve: Callable[[PlacementProblem], PlacementSolution], problem: PlacementProblem
) -> tuple[PlacementSolution, float]:
    start = time.perf_counter()
    solution = solve(problem)
    return solution, time.perf_counter() - start


def _method_run(
    problem: PlacementProblem, method: str, seed: int
) -> tuple[float, float, float, float]:
    """One method on one instance: objective, seconds, feasible share, raw.

    ``raw`` is the annealer's best feasible sample before repair (``nan``
    for the other methods).
    """
    solution, seconds = _timed(_solver(method, seed), problem)
    share = float(solution.info.get("feasible_share", math.nan))
    raw = float(solution.info.get("raw_objective", math.nan))
    return solution.objective, seconds, share, raw


def _gap(value: float, best: float) -> float:
    if not math.isfinite(value) or not math.isfinite(best):
        return math.inf
    return (value - best) / best if best > 0 else 0.0


def _solved_methods(n_services: int) -> list[str]:
    """The methods run on an instance; ``annealing, raw`` comes with ``annealing``."""
    return [
        method
        for method in METHODS
        if method != "annealing, raw"
        and not (method == "cqm_to_bqm, raw" and n_services > NAIVE_LIMIT)
    ]


def compare_methods(
    sizes: Sequence[tuple[int, int]],
    instances: int,
    seed: int,
    *,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[dict[str, Any]]:
    """Every method on ``instances`` random instances of each size.

    The instances are drawn here; every method on every instance is one run
    of `runs`, seeded with ``seed + k`` on the ``k``-th instance of a size.

    Parameters
    ----------
    sizes : sequence of (services, hosts)
    instances : int
        Random instances per size.
    seed : int
        Size ``i`` draws its instances from ``seed + i``.
    runs : RunExecutor, optional
        Where the runs go; one after another in this process by default.
    progress : callable, optional
        Called with a run's label and the fraction done.
    span : tuple of float, default=(0.0, 1.0)
        The part of the caller's progress these runs make up.

    Returns
    -------
    list of dict
        One row per size and method: ``size``, ``method``, ``mean_gap``,
        ``max_gap``, ``feasible`` (answers), ``raw_feasible_share`` (the
        annealers' samples before repair), ``median_s`` and ``gaps``.
    """
    planned: list[tuple[int, int, str]] = []
    work: list[Run] = []
    for offset, (n_services, n_hosts) in enumerate(sizes):
        rng = np.random.default_rng(seed + offset)
        problems = [
            random_placement(n_services, n_hosts, rng) for _ in range(instances)
        ]
        for k, problem in enumerate(problems):
            for method in _solved_methods(n_services):
                planned.append((offset, k, method))
                work.append(
                    Run(
                        f"placement {n_services}x{n_hosts} #{k} / {method}",
                        _method_run,
                        {"problem": problem, "method": method, "seed": seed + k},
                    )
                )
    results = dict(zip(planned, map_runs(work, runs, progress, span=span), strict=True))

    rows: list[dict[str, Any]] = []
    for offset, (n_services, n_hosts) in enumerate(sizes):
        found: dict[str, list[tuple[float, float, float]]] = {m: [] for m in METHODS}
        for k in range(instances):
            reference = results[offset, k, "milp"][0]
            for method in _solved_methods(n_services):
                value, seconds, share, raw = results[offset, k, method]
                if method == "milp":
                    share = math.nan
                found[method].append((_gap(value, reference), seconds, share))
                if method == "annealing":
                    found["annealing, raw"].append(
                        (_gap(raw, reference), seconds, share)
                    )
        for method in METHODS:
            if not found[method]:
                continue
            gaps = [g for g, _, _ in found[method]]
            finite = [g for g in gaps if math.isfinite(g)]
            shares = [s for _, _, s in found[method] if math.isfinite(s)]
            rows.append(
                {
                    "size": f"{n_services}x{n_hosts}",
                    "method": method,
                    "mean_gap": float(np.mean(finite)) if finite else math.inf,
                    "max_gap": float(np.max(finite)) if finite else math.inf,
                    "feasible": f"{len(finite)}/{len(gaps)}",
                    "raw_feasible_share": float(np.mean(shares)) if shares else None,
                    "median_s": float(np.median([t for _, t, _ in found[method]])),
                    "gaps": gaps,
                }
            )
    return rows


def _budget_run(
    problem: PlacementProblem, reads: int, sweeps: int, seed: int
) -> tuple[float, float, float, float]:
    """The annealer at one budget: objective, raw objective, share, seconds."""
    from qnrecovery.registry import backend

    placer = backend(
        "placer", "annealing", random_state=seed, num_reads=reads, num_sweeps=sweeps
    )
    solution, seconds = _timed(placer.place, problem)
    return (
        solution.objective,
        float(solution.info["raw_objective"]),
        float(solution.info["feasible_share"]),
        seconds,
    )


def _reference_run(problem: PlacementProblem, method: str) -> tuple[float, float]:
    """A reference method (``milp`` or the search without annealing), timed."""
    solution, seconds = _timed(_solver(method, 0), problem)
    return solution.objective, seconds


def budget_curve(
    size: tuple[int, int],
    instances: int,
    seed: int,
    budgets: Sequence[tuple[int, int]] = BUDGETS,
    *,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[dict[str, Any]]:
    """The annealer's gap at growing (reads, sweeps) budgets on one size.

    The instances are drawn here (from ``seed + 1000``); every budget on
    every instance, and each reference on every instance, is one run of
    `runs`. The annealer on the ``k``-th instance is seeded with ``seed + k``.

    Parameters
    ----------
    size : (services, hosts)
    instances : int
        Random instances.
    seed : int
    budgets : sequence of (reads, sweeps), default=BUDGETS
    runs : RunExecutor, optional
        Where the runs go; one after another in this process by default.
    progress : callable, optional
        Called with a run's label and the fraction done.
    span : tuple of float, default=(0.0, 1.0)
        The part of the caller's progress these runs make up.

    Returns
    -------
    list of dict
        One row per budget: ``reads``, ``sweeps``, mean ``wall_s``,
        ``mean_gap`` (after repair), ``raw_gap`` (mean over instances where a
        raw sample was feasible), ``raw_feasible_share``; plus one row per
        reference (``milp``, ``greedy + repair/local search``).
    """
    rng = np.random.default_rng(seed + 1000)
    problems = [random_placement(*size, rng) for _ in range(instances)]
    references = ("milp", "greedy + repair/local search")
    work = [
        Run(
            f"budget curve #{k} / {method}",
            _reference_run,
            {"problem": problem, "method": method},
        )
        for method in references
        for k, problem in enumerate(problems)
    ]
    work += [
        Run(
            f"budget curve #{k} / {reads} x {sweeps}",
            _budget_run,
            {"problem": problem, "reads": reads, "sweeps": sweeps, "seed": seed + k},
        )
        for reads, sweeps in budgets
        for k, problem in enumerate(problems)
    ]
    results = map_runs(work, runs, progress, span=span)
    exact = results[:instances]
    searched = results[instances : 2 * instances]
    annealed = results[2 * instances :]

    rows = []
    for b, (reads, sweeps) in enumerate(budgets):
        gaps, raws, shares, times = [], [], [], []
        for k in range(instances):
            objective, raw, share, seconds = annealed[b * instances + k]
            gaps.append(_gap(objective, exact[k][0]))
            raws.append(_gap(raw, exact[k][0]))
            shares.append(share)
            times.append(seconds)
        finite_raw = [r for r in raws if math.isfinite(r)]
        rows.append(
            {
                "method": "annealing",
                "reads": reads,
                "sweeps": sweeps,
                "wall_s": float(np.mean(times)),
                "mean_gap": float(np.mean(gaps)),
                "raw_gap": float(np.mean(finite_raw)) if finite_raw else math.inf,
                "raw_feasible_share": float(np.mean(shares)),
            }
        )
    rows.append(
        {
            "method": "greedy + repair/local search",
            "wall_s": float(np.mean([t for _, t in searched])),
            "mean_gap": float(
                np.mean(
                    [_gap(s, e) for (s, _), (e, _) in zip(searched, exact, strict=True)]
                )
            ),
        }
    )
    rows.append(
        {
            "method": "milp",
            "wall_s": float(np.mean([t for _, t in exact])),
            "mean_gap": 0.0,
        }
    )
    return rows


def _timing_run(
    problem: PlacementProblem, name: str, seed: int, repeats: int
) -> ComparisonResult:
    """``annealing`` against ``milp`` on one instance, both timed in this run."""
    from qnrecovery.registry import backend

    annealing = backend("placer", "annealing", random_state=seed)
    milp = backend("placer", "milp")
    return compare(
        name,
        functools.partial(annealing.place, problem),
        functools.partial(milp.place, problem),
        repeats=repeats,
        score=_objective,
        candidate_label="annealing",
        baseline_label="milp",
    )


def _objective(solution: PlacementSolution) -> float:
    return solution.objective


def _timing_rows(
    sizes: Sequence[tuple[int, int]],
    seed: int,
    repeats: int,
    *,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[ComparisonResult]:
    """``annealing`` against ``milp``, timed alternately with the harness.

    One run per size times both sides, so a ratio's two sides share a task.
    """
    work = []
    for offset, size in enumerate(sizes):
        name = f"placement {size[0]} services x {size[1]} hosts"
        problem = random_placement(*size, np.random.default_rng(seed + offset))
        work.append(
            Run(
                f"timing {size[0]}x{size[1]}",
                _timing_run,
                {"problem": problem, "name": name, "seed": seed, "repeats": repeats},
            )
        )
    return map_runs(work, runs, progress, span=span)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%" if math.isfinite(value) else "none feasible"


def method_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: one line per size and method."""
    lines = [
        "| size | method | mean gap to MILP | max gap | feasible answers "
        "| raw feasible share | median time ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        share = row["raw_feasible_share"]
        lines.append(
            f"| {row['size']} | {row['method']} | {_pct(row['mean_gap'])} "
            f"| {_pct(row['max_gap'])} | {row['feasible']} "
            f"| {'-' if share is None else f'{100 * share:.1f}%'} "
            f"| {1e3 * row['median_s']:.0f} |"
        )
    return "\n".join(lines)


def budget_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: the annealer's gap per budget, and the references."""
    lines = [
        "| method | reads x sweeps | mean time ms | mean gap (after repair) "
        "| raw gap | raw feasible share |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        budget = f"{row['reads']} x {row['sweeps']}" if "reads" in row else "-"
        raw = _pct(row["raw_gap"]) if "raw_gap" in row else "-"
        share = (
            f"{100 * row['raw_feasible_share']:.1f}%"
            if "raw_feasible_share" in row
            else "-"
        )
        lines.append(
            f"| {row['method']} | {budget} | {1e3 * row['wall_s']:.0f} "
            f"| {_pct(row['mean_gap'])} | {raw} | {share} |"
        )
    return "\n".join(lines)


def _plot(
    rows: Sequence[dict[str, Any]], size: tuple[int, int], out: Path
) -> list[Path]:
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    anneal = [r for r in rows if r["method"] == "annealing"]
    times = [r["wall_s"] for r in anneal]
    axes.plot(
        times,
        [100 * r["mean_gap"] for r in anneal],
        "o-",
        label="annealing (after repair)",
    )
    raw = [
        (r["wall_s"], 100 * r["raw_gap"]) for r in anneal if math.isfinite(r["raw_gap"])
    ]
    if raw:
        axes.plot(*zip(*raw, strict=True), "s--", label="annealing, raw samples")
    for r in rows:
        if r["method"] == "milp":
            axes.axvline(
                r["wall_s"], color="black", linestyle=":", label="MILP (optimal)"
            )
        elif r["method"] == "greedy + repair/local search":
            axes.plot(r["wall_s"], 100 * r["mean_gap"], "^", label=r["method"])
    axes.set_xscale("log")
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("wall time per instance (s)")
    axes.set_ylabel("gap to the MILP optimum (%)")
    axes.set_title(f"Gap against time budget, {size[0]} services x {size[1]} hosts")
    axes.legend(fontsize="small")
    return save_figure(figure, out, "placement_gap_vs_time")


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    runs: RunExecutor | None = None,
) -> SuiteReport:
    """The annealing placer against the MILP, its ablations, and the budget curve.

    Parameters
    ----------
    quick : bool
        Sizes up to 50 x 12, two instances per size, budget curve at 50 x 12;
        otherwise sizes up to 200 x 50, three instances, curve at 100 x 20.
    seed : int
        Seed of the instances and of the annealer.
    out : Path
        Folder for the plot (``placement_gap_vs_time.png`` and ``.svg``).
    progress : callable, optional
        Called with a step description and the fraction done.
    runs : RunExecutor, optional
        Where the independent runs go (every method on every instance, every
        budget on every instance, one timing per size); one after another in
        this process by default.

    Returns
    -------
    SuiteReport
    """
    sizes = QUICK_SIZES if quick else FULL_SIZES
    instances = 2 if quick else 3
    curve_size = (50, 12) if quick else (100, 20)
    report = progress or (lambda _step, _fraction: None)

    report("methods on every size", 0.0)
    rows = compare_methods(
        sizes, instances, seed, runs=runs, progress=progress, span=(0.0, 0.5)
    )
    report("budget curve", 0.5)
    curve = budget_curve(
        curve_size, instances, seed, runs=runs, progress=progress, span=(0.5, 0.85)
    )
    report("timing annealing against milp", 0.85)
    timing = _timing_rows(
        sizes,
        seed,
        repeats=2 if quick else 3,
        runs=runs,
        progress=progress,
        span=(0.85, 1.0),
    )
    plots = _plot(curve, curve_size, out)
    report("done", 1.0)

    table = "\n\n".join(
        [
            method_table(rows),
            f"Gap against budget at {curve_size[0]} x {curve_size[1]}:",
            budget_table(curve),
            "Timed side by side (one instance per size):",
            format_table(timing),
        ]
    )
    return SuiteReport(
        name="placement",
        table=table,
        figures={
            "instances_per_size": instances,
            "methods": rows,
            "budget_curve": {"size": list(curve_size), "rows": curve},
            "timing": [
                {
                    "name": r.name,
                    "annealing_median_s": r.candidate.median_s,
                    "milp_median_s": r.baseline.median_s,
                    "ratio": r.ratio,
                }
                for r in timing
            ],
        },
        plots=plots,
        notes=[
            "Gap = (objective - MILP optimum) / MILP optimum per instance; the MILP "
            "(HiGHS) is exact and is the reference.",
            "'annealing, raw' is the best feasible sample of the same annealing run "
            "before repair; 'raw feasible share' is the share of the annealer's "
            "samples that satisfy every constraint of the CQM, over every penalty "
            "escalation.",
            "'greedy + repair/local search' runs the annealer's repair and local "
            "search from the greedy placement without annealing: the ablation "
            "without the annealer.",
            "'cqm_to_bqm, raw' converts the same CQM with dimod.cqm_to_bqm "
            "(one-hot, slack bits, dimod's default penalty) and samples it with "
            f"the same reads and sweeps, without repair; run up to {NAIVE_LIMIT} "
            "services.",
            "Times include building the models, checking every sample, repair and "
            "local search.",
        ],
    )
