"""Small runs of the predictor and kernel benchmark suites."""

from __future__ import annotations

import numpy as np

from qnrecovery.bench.kernel import _estimate_sampler, _table, time_kernels
from qnrecovery.bench.predictors import Split, evaluate


def test_kernel_timing_record_agrees_with_the_reference():
    record = time_kernels(12, 3, seed=0, sampler=False, repeats=1)
    assert record["max_abs_diff_statevector"] < 1e-9
    assert record["ours_s"] > 0 and record["speedup"] > 0
    assert record["sampler_s"] is None


def test_sampler_estimate_scales_with_circuit_count():
    records = [
        {"n": 10, "qubits": 2, "sampler_s": 4.5},
        {"n": 100, "qubits": 2, "sampler_s": None},
    ]
    _estimate_sampler(records)
    assert records[1]["sampler_estimate_s"] == 4.5 / 45 * 4950


def test_kernel_table_says_what_was_not_run():
    record = time_kernels(8, 2, seed=0, sampler=False, repeats=1)
    record["sampler_estimate_s"] = 600.0
    assert "not run (~10 min predicted)" in _table([record])


def test_predictor_evaluation_uses_the_same_rows_for_every_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 1.2).astype(int)
    split = Split("toy", X[:300], y[:300], X[300:], y[300:], "first 300 rows")
    models = {
        "quantum-kernel": ("quantum-kernel", {"n_qubits": 3}),
        "logistic": ("logistic", {}),
    }
    records = evaluate(split, train_rows=120, seed=0, models=models)
    assert [r["model"] for r in records] == ["quantum-kernel", "logistic"]
    assert {r["fit_rows"] for r in records} == {90}
    assert {r["test_rows"] for r in records} == {100}
    for r in records:
        assert 0.5 < r["roc_auc"] <= 1.0
        assert 0.0 <= r["f1"] <= 1.0
