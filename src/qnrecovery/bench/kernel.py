"""Time the exact fidelity kernel against qiskit-machine-learning's kernels.

For every size ``n`` (samples) and width ``q`` (qubits) the suite draws
``n`` random angle rows in ``[0, pi]`` and computes the ``n x n`` training
Gram matrix of ``zz_feature_map(q, reps=2, entanglement="full")`` three ways:

- **ours**: :mod:`qnrecovery.quantum.kernel` (batched states, one product);
- **FidelityStatevectorKernel**: qiskit-machine-learning's exact kernel
  (one ``Statevector`` per sample, one Python-level product per pair);
- **FidelityQuantumKernel**: compute-uncompute circuits on Aer's
  ``SamplerV2`` (1024 shots, ``max_circuits_per_job=300``, one thread).

Each time covers the whole call, classical work included. The sampler kernel
needs ``n (n - 1) / 2`` circuits; sizes above ``sampler_max_n`` are not run,
and the table gives the time the per-circuit rate measured at the largest
size run would predict. The agreement columns give the largest absolute
difference from our values.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.bench.runs import Run, RunExecutor, map_runs
from qnrecovery.bench.suite import Progress, SuiteReport

__all__ = ["FULL_GRID", "QUICK_GRID", "run_suite", "time_kernels", "time_ray_tiles"]

logger = logging.getLogger(__name__)

#: (sizes, qubit counts, largest n run on the Aer sampler) of a full run.
FULL_GRID = ((100, 200, 500), (4, 6, 8), 100)
#: The same for ``--quick``.
QUICK_GRID = ((50, 100), (4, 6), 50)

_SHOTS = 1024


def _timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def time_kernels(
    n: int, qubits: int, seed: int, *, sampler: bool, repeats: int = 3
) -> dict[str, Any]:
    """Time the three kernels on one size; the sampler only if `sampler`.

    Returns
    -------
    dict
        ``ours_s`` (median of `repeats`), ``statevector_s`` (one run, and
        the median when ``n <= 200``), ``sampler_s`` or ``None``, the
        agreement figures and the speed-up over ``FidelityStatevectorKernel``.
    """
    from qiskit.circuit.library import zz_feature_map
    from qiskit_machine_learning.kernels import FidelityStatevectorKernel

    from qnrecovery.quantum._qml import make_sampler_kernel
    from qnrecovery.quantum.kernel import PauliZMap, fidelity_gram
    from qnrecovery.quantum.targets import parse_target

    X = np.random.default_rng(seed).uniform(0, np.pi, size=(n, qubits))
    fmap = PauliZMap(qubits, reps=2, entanglement="full")
    circuit = zz_feature_map(qubits, reps=2, entanglement="full")

    ours_times, sv_times = [], []
    reference_runs = repeats if n <= 200 else 1
    for run in range(repeats):
        seconds, ours = _timed(lambda: fidelity_gram(fmap.statevectors(X)))
        ours_times.append(seconds)
        if run < reference_runs:
            kernel = FidelityStatevectorKernel(feature_map=circuit)
            seconds, reference = _timed(lambda k=kernel: k.evaluate(X))
            sv_times.append(seconds)

    record: dict[str, Any] = {
        "n": n,
        "qubits": qubits,
        "ours_s": float(np.median(ours_times)),
        "statevector_s": float(np.median(sv_times)),
        "statevector_runs": reference_runs,
        "max_abs_diff_statevector": float(np.abs(ours - reference).max()),
        "sampler_s": None,
        "max_abs_diff_sampler": None,
    }
    record["speedup"] = record["statevector_s"] / record["ours_s"]
    if sampler:
        target = parse_target("aer", shots=_SHOTS, seed=seed)
        kernel = make_sampler_kernel(circuit, target, max_circuits_per_job=300)
        seconds, sampled = _timed(lambda: kernel.evaluate(X))
        record["sampler_s"] = seconds
        record["max_abs_diff_sampler"] = float(np.abs(ours - sampled).max())
    return record


def time_ray_tiles(n: int, qubits: int, seed: int, tiles: int = 4) -> dict[str, Any]:
    """Time the exact Gram matrix as Ray tiles against the local product.

    Uses the Ray session of this process. The states are those of
    :func:`time_kernels` for the same `n`, `qubits` and `seed`.

    Returns
    -------
    dict
        ``local_s``, ``ray_s`` (both including the states), the tile size,
        the number of tiles and ``max_abs_diff`` between the two matrices.
    """
    from qnrecovery.quantum.kernel import PauliZMap, fidelity_gram

    X = np.random.default_rng(seed).uniform(0, np.pi, size=(n, qubits))
    fmap = PauliZMap(qubits, reps=2, entanglement="full")
    block = max(1, -(-n // tiles))

    local_s, local = _timed(lambda: fidelity_gram(fmap.statevectors(X)))
    ray_s, tiled = _timed(lambda: fidelity_gram(fmap.statevectors(X), ray_block=block))
    return {
        "n": n,
        "qubits": qubits,
        "block": block,
        "tiles": (-(-n // block)) ** 2,
        "local_s": local_s,
        "ray_s": ray_s,
        "max_abs_diff": float(np.abs(local - tiled).max()),
    }


def _cell(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1e3:.1f}"
    return f"{value:.2f}"


def _table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| n | qubits | ours ms | FidelityStatevectorKernel ms | speed-up "
        "| max abs diff | FidelityQuantumKernel (Aer, 1024 shots) s "
        "| max abs diff (shots) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if r["sampler_s"] is not None:
            sampler = _cell(r["sampler_s"])
        else:
            sampler = f"not run (~{r['sampler_estimate_s'] / 60:.0f} min predicted)"
        lines.append(
            f"| {r['n']} | {r['qubits']} | {_cell(r['ours_s'], 'ms')} "
            f"| {_cell(r['statevector_s'], 'ms')} | {r['speedup']:.0f}x "
            f"| {r['max_abs_diff_statevector']:.1e} | {sampler} "
            f"| {_cell(r['max_abs_diff_sampler'])} |"
        )
    return "\n".join(lines)


def _estimate_sampler(records: list[dict[str, Any]]) -> None:
    """Predict the sampler time of the sizes not run from the measured rate."""
    for r in records:
        if r["sampler_s"] is not None:
            continue
        measured = [m for m in records if m["qubits"] == r["qubits"] and m["sampler_s"]]
        if not measured:
            r["sampler_estimate_s"] = float("nan")
            continue
        largest = max(measured, key=lambda m: m["n"])
        per_circuit = largest["sampler_s"] / (largest["n"] * (largest["n"] - 1) / 2)
        r["sampler_estimate_s"] = per_circuit * r["n"] * (r["n"] - 1) / 2


def _plot(records: list[dict[str, Any]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 4), layout="constrained")
    axes = figure.subplots()
    for qubits in sorted({r["qubits"] for r in records}):
        rows = [r for r in records if r["qubits"] == qubits]
        n = [r["n"] for r in rows]
        axes.plot(n, [r["ours_s"] for r in rows], "o-", label=f"ours, {qubits} q")
        axes.plot(
            n,
            [r["statevector_s"] for r in rows],
            "s--",
            label=f"FidelityStatevectorKernel, {qubits} q",
        )
        sampled = [r for r in rows if r["sampler_s"] is not None]
        if sampled:
            axes.plot(
                [r["n"] for r in sampled],
                [r["sampler_s"] for r in sampled],
                "^:",
                label=f"FidelityQuantumKernel (Aer), {qubits} q",
            )
    axes.set_xlabel("samples n")
    axes.set_ylabel("seconds for the n x n Gram matrix")
    axes.set_yscale("log")
    axes.legend(fontsize=7)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "kernel_times.png", out / "kernel_times.svg"]
    figure.savefig(paths[0], dpi=120)
    figure.savefig(paths[1])
    return paths


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    runs: RunExecutor | None = None,
) -> SuiteReport:
    """Time the three kernels over the size grid; each size is one run of `runs`.

    On the Ray runtime the largest size's Gram matrix is also computed in
    tiles as Ray tasks and compared with the local product.
    """
    sizes, widths, sampler_max_n = QUICK_GRID if quick else FULL_GRID
    grid = [(n, q) for q in widths for n in sizes]
    cells = [
        Run(
            f"kernel n={n}, {qubits} qubits",
            time_kernels,
            {"n": n, "qubits": qubits, "seed": seed, "sampler": n <= sampler_max_n},
        )
        for n, qubits in grid
    ]
    on_ray = runs is not None and runs.name == "ray"
    records = map_runs(cells, runs, progress, span=(0.0, 0.9 if on_ray else 1.0))
    for record in records:
        logger.info("kernel timing: %s", record)
    _estimate_sampler(records)

    largest = max(records, key=lambda r: (r["n"], r["qubits"]))
    tiles = None
    if on_ray:
        if progress is not None:
            progress("Gram tiles as Ray tasks", 0.9)
        tiles = time_ray_tiles(largest["n"], largest["qubits"], seed)
    notes = [
        "Training Gram matrix of zz_feature_map(reps=2, entanglement='full') on "
        "random angles; ours and FidelityStatevectorKernel are exact, "
        "FidelityQuantumKernel samples 1024 shots per circuit.",
        f"At n={largest['n']}, {largest['qubits']} qubits ours took "
        f"{largest['ours_s'] * 1e3:.0f} ms against "
        f"{largest['statevector_s']:.2f} s ({largest['speedup']:.0f}x).",
        f"FidelityQuantumKernel ran only up to n={sampler_max_n}: it needs "
        "n(n-1)/2 circuits; the larger sizes show the time its measured "
        "per-circuit rate predicts.",
    ]
    figures: dict[str, Any] = {"records": records, "shots": _SHOTS}
    if tiles is not None:
        figures["ray_tiles"] = tiles
        notes.append(
            f"Gram tiles as Ray tasks at n={tiles['n']}, {tiles['qubits']} qubits, "
            f"{tiles['tiles']} tiles of {tiles['block']} rows: "
            f"{tiles['ray_s'] * 1e3:.0f} ms against {tiles['local_s'] * 1e3:.0f} ms "
            f"in one process; largest difference {tiles['max_abs_diff']:.1e}. "
            "At these sizes the task overhead outweighs the product; tiles pay "
            "when one process cannot hold the matrix."
        )
    return SuiteReport(
        name="kernel",
        table=_table(records),
        figures=figures,
        plots=_plot(records, out),
        notes=notes,
    )
