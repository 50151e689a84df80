"""Grover search and the quantum kernel end to end on fake IBM devices.

The fake devices carry real calibration data: noise, basis gates and coupling
maps. Every answer is checked classically: a Grover route against the problem
and Dijkstra, kernel predictions against the true labels and the exact kernel.
Grover's smallest circuit needs 8 qubits, more than the 5 of ``fake:manila``,
so it runs on two 16- and 15-qubit devices; the kernel runs on ``fake:manila``
and ``fake:lima``.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest

from qnrecovery.interfaces import PathProblem
from qnrecovery.registry import available, backend

REGISTERED = available()
needs_grover = pytest.mark.skipif(
    "grover" not in REGISTERED.get("path", []),
    reason="the 'grover' path searcher is not registered yet",
)
needs_kernel = pytest.mark.skipif(
    "quantum-kernel" not in REGISTERED.get("predictor", []),
    reason="the 'quantum-kernel' predictor is not registered yet",
)


def route_problem() -> PathProblem:
    graph = nx.Graph()
    for u, v, latency in [("a", "b", 1), ("b", "d", 1), ("a", "c", 2), ("c", "d", 2)]:
        graph.add_edge(u, v, latency_ms=float(latency))
    return PathProblem(graph, "a", ("d",), failed_nodes=frozenset({"b"}))


@pytest.mark.slow
@needs_grover
@pytest.mark.parametrize("device", ["fake:guadalupe", "fake:melbourne"])
def test_grover_route_on_a_fake_device_is_verified(device: str) -> None:
    problem = route_problem()
    optimum = backend("path", "dijkstra").search(problem)
    options: dict[str, Any] = {"per_target": 2, "max_qubits": 10, "latency_bits": 2}

    solution = backend(
        "path", "grover", target=device, random_state=0, **options
    ).search(problem)

    assert solution.info["target"] == device
    assert solution.feasible and problem.is_feasible(solution.path)
    assert solution.objective == pytest.approx(problem.path_latency(solution.path))
    assert solution.objective >= optimum.objective
    assert "b" not in solution.path


def separable(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 2))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


@pytest.mark.slow
@needs_kernel
@pytest.mark.parametrize("device", ["fake:manila", "fake:lima"])
def test_quantum_kernel_on_a_fake_device_is_verified(device: str) -> None:
    X, y = separable(24, 0)
    X_test, y_test = separable(12, 1)
    options: dict[str, Any] = {"n_qubits": 2, "reps": 1, "cv": 2, "random_state": 0}

    exact = backend("predictor", "quantum-kernel", **options).fit(X, y)
    noisy = backend("predictor", "quantum-kernel", target=device, shots=256, **options)
    noisy.fit(X, y)
    proba = noisy.predict_proba(X_test)

    assert proba.shape == (12, 2) and np.all((proba >= 0) & (proba <= 1))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (noisy.predict(X_test) == y_test).mean() >= 0.75
    assert (noisy.predict(X_test) == exact.predict(X_test)).mean() >= 0.75
