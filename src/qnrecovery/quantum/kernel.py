"""Exact fidelity kernels from batched feature-map statevectors.

The fidelity kernel of a feature map :math:`U(x)` is
:math:`k(x, x') = |\\langle 0|U(x)^\\dagger U(x')|0\\rangle|^2`. This module
computes each sample's statevector :math:`|\\phi(x)\\rangle = U(x)|0\\rangle`
once, for all samples together, and the whole Gram matrix as one matrix
product, :math:`K = |S_a S_b^\\dagger|^2` (in row blocks, to bound memory).

For the Pauli-Z feature maps (``zz_feature_map`` and ``z_feature_map`` of
:mod:`qiskit.circuit.library`) no circuit is built per sample: every
repetition is a Hadamard layer followed by a diagonal phase layer, so the
states follow from a fast Walsh-Hadamard transform of the rows and one
vectorised phase per basis state:

.. math::

    \\varphi_b(x) = \\alpha \\Big(\\sum_i x_i b_i
        + \\sum_{(i, j)} (\\pi - x_i)(\\pi - x_j)\\,(b_i \\oplus b_j)\\Big)

where :math:`b` runs over the :math:`2^n` basis states (qubit ``i`` is bit
``i`` of the index, Qiskit's order) and the pairs :math:`(i, j)` are the
map's entanglement. Any other feature map falls back to Qiskit's
:class:`~qiskit.quantum_info.Statevector`, one bound circuit per sample; the
Gram matrix is still one product.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.quantum.kernel import PauliZMap, fidelity_gram
>>> fmap = PauliZMap(num_qubits=3, reps=2, entanglement="linear")
>>> X = np.random.default_rng(0).uniform(0, np.pi, size=(5, 3))
>>> K = fidelity_gram(fmap.statevectors(X))
>>> K.shape, bool(np.allclose(np.diag(K), 1.0))
((5, 5), True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.quantum.targets import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    check_statevector_memory,
    format_bytes,
)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "NATIVE_ENTANGLEMENTS",
    "CircuitMap",
    "PauliZMap",
    "entangling_pairs",
    "fidelity_gram",
    "statevectors_for",
]

logger = logging.getLogger(__name__)

#: Entanglement patterns :class:`PauliZMap` computes without circuits.
NATIVE_ENTANGLEMENTS = ("linear", "reverse_linear", "circular", "full", "pairwise")

#: Bytes one block of the Gram product may take (complex intermediate).
_BLOCK_BYTES = 64 * 2**20


def entangling_pairs(
    num_qubits: int, entanglement: str | Sequence[Sequence[int]]
) -> list[tuple[int, int]]:
    """Return the qubit pairs of a two-qubit entanglement pattern.

    Parameters
    ----------
    num_qubits : int
        Width of the map.
    entanglement : str or sequence of pairs
        One of :data:`NATIVE_ENTANGLEMENTS`, or explicit ``(i, j)`` pairs.

    Returns
    -------
    list of tuple of int
        The pairs, in no particular order (the phase gates commute).

    Raises
    ------
    ConfigError
        If the pattern is unknown or a pair is out of range.
    """
    n = num_qubits
    if not isinstance(entanglement, str):
        pairs = [tuple(int(q) for q in pair) for pair in entanglement]
        bad = [p for p in pairs if len(p) != 2 or p[0] == p[1] or not _in_range(p, n)]
        if bad:
            raise ConfigError(
                f"`entanglement` pairs must be two distinct qubits in 0..{n - 1}; "
                f"got {bad[0]!r}."
            )
        return [(p[0], p[1]) for p in pairs]
    if n < 2:
        return []
    linear = [(i, i + 1) for i in range(n - 1)]
    patterns = {
        "linear": linear,
        "reverse_linear": linear,
        "pairwise": linear,
        "circular": linear + ([(n - 1, 0)] if n > 2 else []),
        "full": [(i, j) for i in range(n) for j in range(i + 1, n)],
    }
    if entanglement not in patterns:
        raise ConfigError(
            f"`entanglement` must be one of {', '.join(NATIVE_ENTANGLEMENTS)} or a "
            f"list of qubit pairs; got {entanglement!r}."
        )
    return patterns[entanglement]


def _in_range(pair: tuple[int, ...], n: int) -> bool:
    return all(0 <= q < n for q in pair)


def _as_samples(X: Any, num_qubits: int, owner: str) -> np.ndarray:
    """Validate feature rows: 2-D, finite, one column per qubit."""
    values = np.asarray(X, dtype=float)
    if values.ndim != 2 or values.shape[1] != num_qubits:
        raise DataError(
            f"{owner} maps {num_qubits} features onto {num_qubits} qubits; got "
            f"an array of shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise DataError(f"{owner} needs finite features; got NaN or infinity.")
    return values


def _check_memory(num_qubits: int, rows: int, limit: int, what: str) -> None:
    """Refuse `rows` statevectors (plus one working copy) over `limit` bytes."""
    check_statevector_memory(
        num_qubits, limit_bytes=limit, copies=max(rows, 1) + 1, what=what
    )


@dataclass(frozen=True)
class PauliZMap:
    """The ZZ (or Z) feature map of Qiskit, computed for all samples at once.

    Equal to ``zz_feature_map(num_qubits, reps, entanglement, alpha)`` from
    :mod:`qiskit.circuit.library` (``z_feature_map`` when ``pairs=False``),
    with the default data map.

    Parameters
    ----------
    num_qubits : int
        One qubit per feature.
    reps : int, default=2
        Repetitions of the Hadamard and phase layers.
    entanglement : str or sequence of pairs, default="full"
        One of :data:`NATIVE_ENTANGLEMENTS` or explicit qubit pairs.
    alpha : float, default=2.0
        Rotation factor of every phase.
    pairs : bool, default=True
        ``False`` leaves out the two-qubit terms (``z_feature_map``).
    memory_limit_bytes : int, default=DEFAULT_MEMORY_LIMIT_BYTES
        Largest memory the statevectors of one call may take.
    """

    num_qubits: int
    reps: int = 2
    entanglement: str | tuple[tuple[int, int], ...] = "full"
    alpha: float = 2.0
    pairs: bool = True
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES

    def _pairs(self) -> list[tuple[int, int]]:
        if not self.pairs:
            return []
        return entangling_pairs(self.num_qubits, self.entanglement)

    def phases(self, X: np.ndarray) -> np.ndarray:
        """Phase of every basis state for every sample, shape (N, 2**n)."""
        n = self.num_qubits
        index = np.arange(2**n)
        bits = ((index[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
        angles = X @ bits.T

        pairs = self._pairs()
        if pairs:
            i, j = np.array(pairs).T
            parity = (bits[:, i] != bits[:, j]).astype(float)  # (2**n, pairs)
            products = (np.pi - X[:, i]) * (np.pi - X[:, j])  # (N, pairs)
            angles += products @ parity.T
        return self.alpha * angles

    def statevectors(self, X: Any) -> np.ndarray:
        """Return the feature-map state of every row of `X`, shape (N, 2**n).

        Raises
        ------
        DataError
            If `X` is not finite or has not ``num_qubits`` columns.
        ResourceLimitError
            If the states would need more than ``memory_limit_bytes``.
        """
        X = _as_samples(X, self.num_qubits, type(self).__name__)
        n, rows = self.num_qubits, X.shape[0]
        _check_memory(n, rows, self.memory_limit_bytes, f"states of {rows} samples")

        # First repetition: H on |0...0> is the uniform state.
        diagonal = np.exp(1j * self.phases(X))
        states = diagonal / math.sqrt(2**n)
        for _ in range(self.reps - 1):
            states = walsh_hadamard(states, n)
            states *= diagonal
        return states


def walsh_hadamard(states: np.ndarray, num_qubits: int) -> np.ndarray:
    """Apply H to every qubit of every row of `states` (a new array)."""
    rows = states.shape[0]
    out = states.copy()
    for qubit in range(num_qubits):
        view = out.reshape(rows, -1, 2, 2**qubit)
        low = view[:, :, 0, :].copy()
        high = view[:, :, 1, :]
        view[:, :, 0, :] += high
        view[:, :, 1, :] = low - high
    out *= 2.0 ** (-num_qubits / 2)
    return out


@dataclass(frozen=True)
class CircuitMap:
    """Any parameterised feature map, simulated by Qiskit one sample at a time.

    The fallback for maps :class:`PauliZMap` cannot compute natively. The
    circuit's parameters are bound in their sorted order (Qiskit's
    ``circuit.parameters``), one feature per parameter.

    Parameters
    ----------
    circuit : QuantumCircuit
        The feature map.
    memory_limit_bytes : int, default=DEFAULT_MEMORY_LIMIT_BYTES
    """

    circuit: QuantumCircuit
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES

    @property
    def num_qubits(self) -> int:
        """Width of the circuit."""
        return int(self.circuit.num_qubits)

    def statevectors(self, X: Any) -> np.ndarray:
        """Return the state of every row of `X`, shape (N, 2**n)."""
        from qiskit.quantum_info import Statevector

        width = self.circuit.num_parameters
        X = _as_samples(X, width, type(self).__name__)
        rows = X.shape[0]
        _check_memory(
            self.num_qubits, rows, self.memory_limit_bytes, f"states of {rows} samples"
        )
        states = np.empty((rows, 2**self.num_qubits), dtype=complex)
        for row, values in enumerate(X):
            bound = self.circuit.assign_parameters(values)
            states[row] = Statevector(bound).data
        return states


def statevectors_for(feature_map: PauliZMap | CircuitMap, X: Any) -> np.ndarray:
    """The states of `X` under `feature_map` (either kind)."""
    return feature_map.statevectors(X)


def fidelity_gram(
    states_a: np.ndarray,
    states_b: np.ndarray | None = None,
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    ray_block: int | None = None,
) -> np.ndarray:
    """Gram matrix of fidelities ``|<a_i|b_j>|**2`` between two sets of states.

    Parameters
    ----------
    states_a : ndarray of shape (N_a, 2**n)
    states_b : ndarray of shape (N_b, 2**n) or None
        ``None`` uses ``states_a`` and gives a symmetric matrix with an exact
        unit diagonal.
    memory_limit_bytes : int, default=DEFAULT_MEMORY_LIMIT_BYTES
        Largest size of the returned matrix.
    ray_block : int or None, default=None
        Compute the matrix in ``ray_block`` x ``ray_block`` blocks, each a Ray
        task (:func:`qnrecovery.ray_runtime.gram_blocks_on_ray`; needs the
        ``ray`` extra), for sample counts one process should not hold alone.
        The values are those of the local product.

    Returns
    -------
    ndarray of shape (N_a, N_b)
        Values clipped to [0, 1].

    Raises
    ------
    ResourceLimitError
        If the Gram matrix alone would exceed ``memory_limit_bytes``.
    DataError
        If the two sets have different dimensions.
    """
    from qnrecovery.exceptions import ResourceLimitError

    symmetric = states_b is None
    b = states_a if states_b is None else states_b
    if b.shape[1] != states_a.shape[1]:
        raise DataError(
            f"States of dimension {states_a.shape[1]} and {b.shape[1]} cannot be "
            "compared; both sets must come from the same feature map."
        )
    needed = 8 * states_a.shape[0] * b.shape[0]
    if needed > memory_limit_bytes:
        raise ResourceLimitError(
            f"A {states_a.shape[0]} x {b.shape[0]} kernel matrix needs "
            f"{format_bytes(needed)}, over the memory limit of "
            f"{format_bytes(memory_limit_bytes)}. Use fewer samples or raise "
            "memory_limit_bytes."
        )

    if ray_block is not None:
        from qnrecovery.ray_runtime import gram_blocks_on_ray

        gram = np.array(gram_blocks_on_ray(states_a, b, ray_block), dtype=float)
    else:
        gram = np.empty((states_a.shape[0], b.shape[0]))
        block = max(1, _BLOCK_BYTES // (16 * max(b.shape[0], 1)))
        conj_t = b.conj().T
        for start in range(0, states_a.shape[0], block):
            overlap = states_a[start : start + block] @ conj_t
            gram[start : start + block] = overlap.real**2 + overlap.imag**2
    np.clip(gram, 0.0, 1.0, out=gram)
    if symmetric:
        np.fill_diagonal(gram, 1.0)
    return gram
