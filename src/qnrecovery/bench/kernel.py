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

from qnrecovery.bench.suite import Progress, SuiteReport

__all__ = ["FULL_GRID", "QUICK_GRID", "run_suite", "time_kernels"]

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
    *, quick: bool, seed: int, out: Path, progress: Progress | None = None
) -> SuiteReport:
    """Time the three kernels over the size grid."""
    sizes, widths, sampler_max_n = QUICK_GRID if quick else FULL_GRID
    grid = [(n, q) for q in widths for n in sizes]
    records = []
    for index, (n, qubits) in enumerate(grid):
        if progress is not None:
            progress(f"kernel n={n}, {qubits} qubits", index / len(grid))
        records.append(time_kernels(n, qubits, seed, sampler=n <= sampler_max_n))
        logger.info("kernel timing: %s", records[-1])
    _estimate_sampler(records)

    largest = max(records, key=lambda r: (r["n"], r["qubits"]))
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
    return SuiteReport(
        name="kernel",
        table=_table(records),
        figures={"records": records, "shots": _SHOTS},
        plots=_plot(records, out),
        notes=notes,
    )
