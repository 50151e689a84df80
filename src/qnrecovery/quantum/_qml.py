"""Pieces built on qiskit-machine-learning, imported only when a model is fitted."""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit_machine_learning.utils.loss_functions import Loss

__all__ = ["WeightedCrossEntropy", "make_sampler_kernel", "make_vqc"]


class WeightedCrossEntropy(Loss):
    """Cross-entropy with one weight per class (one-hot targets).

    Parameters
    ----------
    weights : ndarray of shape (n_classes,)
        Weight of a sample of each class; ``balanced`` weights make the rare
        failures count as much as the common rows.
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=float)

    def evaluate(self, predict: np.ndarray, target: np.ndarray) -> np.ndarray:
        self._validate_shapes(predict, target)
        sample_weight = target @ self.weights
        log_p = np.log(np.clip(predict, 1e-10, 1.0))
        return np.asarray(-sample_weight * np.sum(target * log_p, axis=1))

    def gradient(self, predict: np.ndarray, target: np.ndarray) -> np.ndarray:
        self._validate_shapes(predict, target)
        sample_weight = (target @ self.weights)[:, None]
        return np.asarray(-sample_weight * target / np.clip(predict, 1e-10, 1.0))


def make_sampler_kernel(
    feature_map: Any, target: Any, max_circuits_per_job: int
) -> Any:
    """``FidelityQuantumKernel`` with the target's sampler (and transpiler)."""
    from qiskit_machine_learning.kernels import FidelityQuantumKernel
    from qiskit_machine_learning.state_fidelities import ComputeUncompute

    # Only a device's basis gates need transpiling; Aer runs the map's gates.
    pass_manager = target.pass_manager() if target.is_noisy else None
    fidelity = ComputeUncompute(
        sampler=target.sampler(threads=1), pass_manager=pass_manager
    )
    return FidelityQuantumKernel(
        feature_map=feature_map,
        fidelity=fidelity,
        max_circuits_per_job=max_circuits_per_job,
    )


def make_vqc(
    feature_map: Any,
    ansatz: Any,
    target: Any,
    *,
    weights: np.ndarray,
    maxiter: int,
    initial_point: np.ndarray,
    callback: Any,
) -> Any:
    """``VQC`` with COBYLA, a weighted loss and the target's sampler.

    The exact ``statevector`` target uses qiskit-machine-learning's exact
    sampler (probabilities, no shots); the others their seeded sampler.
    """
    from qiskit_machine_learning.algorithms import VQC
    from qiskit_machine_learning.optimizers import COBYLA

    if target.is_exact:
        from qiskit_machine_learning.primitives import QMLSampler

        sampler: Any = QMLSampler()
        pass_manager = None
    else:
        sampler = target.sampler(threads=1)
        pass_manager = target.pass_manager()
    return VQC(
        feature_map=feature_map,
        ansatz=ansatz,
        loss=WeightedCrossEntropy(weights),
        optimizer=COBYLA(maxiter=maxiter),
        initial_point=initial_point,
        callback=callback,
        sampler=sampler,
        pass_manager=pass_manager,
    )
