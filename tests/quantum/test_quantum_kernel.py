"""The fast exact kernel against qiskit-machine-learning's statevector kernel."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit.library import pauli_feature_map, z_feature_map, zz_feature_map
from qiskit_machine_learning.kernels import FidelityStatevectorKernel

from qnrecovery.exceptions import ConfigError, DataError, ResourceLimitError
from qnrecovery.quantum.circuits import feature_map_circuit
from qnrecovery.quantum.kernel import (
    CircuitMap,
    PauliZMap,
    entangling_pairs,
    fidelity_gram,
    walsh_hadamard,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _reference(feature_map, X, Y=None) -> np.ndarray:
    return FidelityStatevectorKernel(feature_map=feature_map).evaluate(X, Y)


@pytest.mark.parametrize("qubits", [2, 3, 5])
@pytest.mark.parametrize("reps", [1, 2, 3])
@pytest.mark.parametrize(
    "entanglement", ["linear", "reverse_linear", "circular", "full", "pairwise"]
)
def test_zz_map_agrees_with_qiskit(qubits, reps, entanglement, rng):
    X = rng.uniform(0, np.pi, size=(7, qubits))
    Y = rng.uniform(-1.0, 4.0, size=(5, qubits))  # outside the usual range too
    ours = PauliZMap(qubits, reps=reps, entanglement=entanglement)
    reference = zz_feature_map(qubits, reps=reps, entanglement=entanglement)

    train = fidelity_gram(ours.statevectors(X))
    cross = fidelity_gram(ours.statevectors(Y), ours.statevectors(X))

    np.testing.assert_allclose(train, _reference(reference, X), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cross, _reference(reference, Y, X), rtol=0, atol=1e-9)


@pytest.mark.parametrize("qubits", [1, 3])
def test_z_map_agrees_with_qiskit(qubits, rng):
    X = rng.uniform(0, np.pi, size=(6, qubits))
    ours = fidelity_gram(PauliZMap(qubits, reps=2, pairs=False).statevectors(X))
    reference = _reference(z_feature_map(qubits, reps=2), X)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9)


def test_explicit_pairs_and_alpha_agree_with_qiskit(rng):
    X = rng.uniform(0, np.pi, size=(6, 4))
    pairs = ((0, 2), (1, 3), (3, 0))
    ours = PauliZMap(4, reps=2, entanglement=pairs, alpha=1.3)
    reference = feature_map_circuit("zz", 4, reps=2, entanglement=pairs, alpha=1.3)
    np.testing.assert_allclose(
        fidelity_gram(ours.statevectors(X)), _reference(reference, X), atol=1e-9
    )


def test_circuit_fallback_agrees_with_qiskit(rng):
    X = rng.uniform(0, np.pi, size=(6, 3))
    circuit = pauli_feature_map(3, reps=2, paulis=["Z", "YY"], entanglement="linear")
    ours = fidelity_gram(CircuitMap(circuit).statevectors(X))
    np.testing.assert_allclose(ours, _reference(circuit, X), atol=1e-9)


def test_states_are_normalised_and_match_qiskit_statevector(rng):
    from qiskit.quantum_info import Statevector

    X = rng.uniform(0, np.pi, size=(3, 4))
    states = PauliZMap(4, reps=2, entanglement="full").statevectors(X)
    np.testing.assert_allclose(np.linalg.norm(states, axis=1), 1.0, atol=1e-12)
    circuit = zz_feature_map(4, reps=2, entanglement="full")
    for row, x in zip(states, X, strict=True):
        expected = Statevector(circuit.assign_parameters(x)).data
        overlap = abs(np.vdot(expected, row))  # equal up to a global phase
        assert overlap == pytest.approx(1.0, abs=1e-12)


def test_walsh_hadamard_is_its_own_inverse(rng):
    states = rng.normal(size=(4, 16)) + 1j * rng.normal(size=(4, 16))
    np.testing.assert_allclose(walsh_hadamard(walsh_hadamard(states, 4), 4), states)


def test_duplicate_samples_have_kernel_one(rng):
    X = rng.uniform(0, np.pi, size=(5, 3))
    X = np.vstack([X, X[[1, 3]]])  # rows 5 and 6 repeat rows 1 and 3
    K = fidelity_gram(PauliZMap(3).statevectors(X))
    np.testing.assert_array_equal(np.diag(K), 1.0)
    assert K[1, 5] == pytest.approx(1.0, abs=1e-12)
    assert K[3, 6] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(K, K.T, atol=1e-15)
    assert np.all((K >= 0) & (K <= 1))


def test_too_many_qubits_for_memory_is_refused():
    X = np.zeros((10, 30))
    with pytest.raises(ResourceLimitError, match=r"needs 30 qubits.*GiB.*memory limit"):
        PauliZMap(30).statevectors(X)


def test_memory_limit_is_configurable(rng):
    X = rng.uniform(0, np.pi, size=(50, 6))
    fmap = PauliZMap(6, memory_limit_bytes=100_000)  # 51 states of 1 KiB each fit
    fmap.statevectors(X)
    with pytest.raises(ResourceLimitError, match=r"over the memory limit of 9\.8 KiB"):
        PauliZMap(6, memory_limit_bytes=10_000).statevectors(X)
    states = fmap.statevectors(X)
    with pytest.raises(ResourceLimitError, match=r"50 x 50 kernel matrix needs"):
        fidelity_gram(states, memory_limit_bytes=1_000)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_are_refused(bad):
    X = np.zeros((3, 2))
    X[1, 0] = bad
    with pytest.raises(DataError, match="finite"):
        PauliZMap(2).statevectors(X)


def test_wrong_width_is_refused():
    with pytest.raises(DataError, match=r"3 features onto 3 qubits.*\(4, 2\)"):
        PauliZMap(3).statevectors(np.zeros((4, 2)))


def test_entangling_pairs():
    assert entangling_pairs(4, "circular") == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert entangling_pairs(2, "circular") == [(0, 1)]
    assert len(entangling_pairs(5, "full")) == 10
    assert entangling_pairs(1, "full") == []
    with pytest.raises(ConfigError, match=r"`entanglement` must be one of"):
        entangling_pairs(3, "sca")
    with pytest.raises(ConfigError, match=r"two distinct qubits in 0\.\.2"):
        entangling_pairs(3, [(0, 3)])
