"""Exact forward pass of a variational classifier, for the statevector target.

The circuit is the feature map followed by the ansatz, measured; class ``c``
is read from the measured integer as ``index % 2`` (qiskit-machine-learning's
default interpretation for two classes). Exactly:

    P(class 1 | x, theta) = sum over odd basis states of |U(theta) phi(x)|^2

with the feature-map states ``phi(x)`` computed once for all rows by
:mod:`qnrecovery.quantum.kernel` and the ansatz unitary ``U(theta)`` built
once per optimiser step (a 2**n x 2**n matrix). The objective is the same
class-weighted cross-entropy, averaged over rows, that
:class:`~qnrecovery.quantum._qml.WeightedCrossEntropy` gives ``VQC``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NativeVariational"]


@dataclass
class NativeVariational:
    """Class-1 probabilities of a feature map + ansatz circuit, exactly.

    Parameters
    ----------
    ansatz : QuantumCircuit
        The parameterised ansatz.
    weights : ndarray of shape (2,)
        Class weights of the loss.
    """

    ansatz: Any
    weights: np.ndarray

    def unitary(self, theta: np.ndarray) -> np.ndarray:
        """The ansatz matrix for parameters `theta` (Qiskit's parameter order)."""
        from qiskit.quantum_info import Operator

        return np.asarray(Operator(self.ansatz.assign_parameters(theta)).data)

    def proba(self, states: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """P(class 1) for each row of feature-map `states`."""
        amplitudes = states @ self.unitary(theta).T
        probs = amplitudes.real**2 + amplitudes.imag**2
        return np.asarray(probs[:, 1::2].sum(axis=1))

    def loss(self, states: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
        """Mean class-weighted cross-entropy of the circuit on (`states`, `y`)."""
        p1 = np.clip(self.proba(states, theta), 1e-10, 1.0 - 1e-10)
        p_true = np.where(y == 1, p1, 1.0 - p1)
        return float(np.mean(-self.weights[y] * np.log(p_true)))
