"""A suite's runs as Ray tasks give the results of the same runs in one process."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qnrecovery.bench.runs import LocalRuns, RayRuns, Run
from qnrecovery.exceptions import ConfigError, DataError

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def executor() -> Iterator[RayRuns]:
    """One local Ray instance with two CPUs for the module."""
    pytest.importorskip("ray")
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, logging_level="ERROR", log_to_driver=False)
    try:
        yield RayRuns()
    finally:
        ray.shutdown()


def _untimed(value: Any) -> Any:
    """`value` without wall times (keys ending in ``_s``); NaN made comparable."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if not k.endswith("_s")}
    if isinstance(value, list | tuple):
        return [_untimed(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def test_ray_runs_keep_run_order_and_share_arguments(executor: RayRuns) -> None:
    from qnrecovery.ray_runtime.gram import gram_blocks_local

    rng = np.random.default_rng(0)
    states = rng.normal(size=(40, 8)) + 1j * rng.normal(size=(40, 8))
    runs = [
        Run(
            f"block {b}",
            gram_blocks_local,
            {"states_a": states, "states_b": states, "block": b},
        )
        for b in (40, 7, 1, 13)
    ]
    steps: list[str] = []

    on_ray = executor.map(runs, lambda step, _done: steps.append(step))

    for got, expected in zip(on_ray, LocalRuns().map(runs), strict=True):
        assert np.array_equal(got, expected)
    assert sorted(steps[1:]) == sorted(f"block {b} done" for b in (40, 7, 1, 13))
    described = executor.describe()
    assert described["runtime"] == "ray" and described["cpus"] == 2.0


def test_a_failing_ray_run_raises_its_own_error_type(executor: RayRuns) -> None:
    from qnrecovery.ray_runtime.gram import gram_blocks_local

    bad = np.full((2, 4), np.nan)
    with pytest.raises(DataError, match="NaN or infinite"):
        executor.map(
            [
                Run(
                    "bad",
                    gram_blocks_local,
                    {"states_a": bad, "states_b": bad, "block": 1},
                )
            ]
        )


def _defined_in_a_test_file() -> int:
    return 1


def test_a_run_whose_function_workers_cannot_import_is_a_clear_error(
    executor: RayRuns,
) -> None:
    with pytest.raises(ConfigError, match="module installed on every node"):
        executor.map([Run("local helper", _defined_in_a_test_file)])


def test_every_task_uses_the_blas_threads_of_the_driver(executor: RayRuns) -> None:
    import os

    from threadpoolctl import threadpool_info

    driver = max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
    runs = [
        Run(name, os.getenv, {"key": name})
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    ]

    assert executor.map(runs) == [str(driver), str(driver)]


def test_blas_threads_must_be_a_positive_integer() -> None:
    with pytest.raises(ConfigError, match="blas_threads"):
        RayRuns(blas_threads=0)


def test_predictor_runs_on_ray_equal_the_local_runs(
    executor: RayRuns, shared_file: Callable[..., Path]
) -> None:
    from qnrecovery.bench.predictors import _ai4i, evaluate

    split = _ai4i(shared_file("ai4i2020", "ai4i2020.csv").parents[1], seed=0)
    models = {
        "quantum-kernel": ("quantum-kernel", {"n_qubits": 4}),
        "ablation": ("quantum-kernel", {"n_qubits": 4, "kernel": "rbf"}),
        "variational": ("variational", {"n_qubits": 3, "maxiter": 10}),
        "logistic": ("logistic", {}),
    }

    local = evaluate(split, 120, 0, models, runs=LocalRuns())
    on_ray = evaluate(split, 120, 0, models, runs=executor)

    assert [r["model"] for r in on_ray] == list(models)
    assert _untimed(on_ray) == _untimed(local)


def test_path_suite_on_ray_equals_the_local_suite(
    executor: RayRuns,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qnrecovery.bench import paths

    monkeypatch.setattr(paths, "QUICK_NETWORKS", ("Abilene",))
    local = paths.run_suite(quick=True, seed=1, out=tmp_path, runs=LocalRuns())
    on_ray = paths.run_suite(quick=True, seed=1, out=tmp_path, runs=executor)

    assert len(on_ray.figures["networks"]) == len(paths.BUDGET_FACTORS)
    assert _untimed(on_ray.figures["networks"]) == _untimed(local.figures["networks"])
    assert _untimed(on_ray.figures["noisy"]) == _untimed(local.figures["noisy"])


def test_kernel_suite_on_ray_times_every_size_and_the_gram_tiles(
    executor: RayRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qnrecovery.bench import kernel

    monkeypatch.setattr(kernel, "QUICK_GRID", ((16, 24), (3,), 16))
    report = kernel.run_suite(quick=True, seed=0, out=tmp_path, runs=executor)

    records = report.figures["records"]
    assert [(r["n"], r["qubits"]) for r in records] == [(16, 3), (24, 3)]
    assert all(r["max_abs_diff_statevector"] < 1e-9 for r in records)
    tiles = report.figures["ray_tiles"]
    assert (tiles["n"], tiles["tiles"]) == (24, 16)
    assert tiles["max_abs_diff"] < 1e-12


def test_quantum_kernel_predictor_with_ray_tiles_predicts_as_without(
    executor: RayRuns,
) -> None:
    from qnrecovery.quantum.predictors import QuantumKernelPredictor

    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] - X[:, 1] > 0.3).astype(int)
    options = {"n_qubits": 4, "random_state": 0}

    local = QuantumKernelPredictor(**options).fit(X[:60], y[:60])
    tiled = QuantumKernelPredictor(ray_block=16, **options).fit(X[:60], y[:60])

    np.testing.assert_allclose(
        tiled.predict_proba(X[60:]), local.predict_proba(X[60:]), rtol=0, atol=1e-9
    )
