"""The reference Grover circuits in circuits/ load back and match the code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qnrecovery.quantum.grover import plan_search
from qnrecovery.quantum.grover_oracle import success_probability
from qnrecovery.quantum.grover_reference import (
    REFERENCE_NAMES,
    reference_circuit,
    reference_problem,
)

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_qasm3_import")

CIRCUITS = Path(__file__).resolve().parents[2] / "circuits"


def native_mcx(circuit):
    """``circuit`` with each loaded multi-controlled X definition checked
    against Qiskit's MCX and replaced by it."""
    from qiskit.circuit.library import MCXGate
    from qiskit.quantum_info import Operator

    checked: dict[str, int] = {}
    native = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name.startswith("mcx"):
            controls = operation.num_qubits - 1
            if operation.name not in checked:
                loaded = Operator(operation.definition)
                assert loaded.equiv(Operator(MCXGate(controls)))
                checked[operation.name] = controls
            operation = MCXGate(controls)
        native.append(operation, instruction.qubits, instruction.clbits)
    return native


def index_probabilities(circuit, index_bits: int) -> np.ndarray:
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(method="statevector", max_parallel_threads=1)
    circuit = circuit.remove_final_measurements(inplace=False)
    circuit.save_statevector()
    state = simulator.run(circuit).result().get_statevector()
    probabilities = np.abs(np.asarray(state)) ** 2
    index = np.arange(len(probabilities)) % 2**index_bits
    return np.bincount(index, weights=probabilities, minlength=2**index_bits)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name == "abilene" else name
        for name in REFERENCE_NAMES
    ],
)
def test_reference_circuit_loads_back_and_matches(name):
    import qiskit.qasm3

    stored = qiskit.qasm3.loads((CIRCUITS / f"grover_{name}.qasm").read_text())
    fresh = reference_circuit(name)
    assert stored.num_qubits == fresh.num_qubits
    assert stored.num_clbits == fresh.num_clbits

    problem = reference_problem(name)
    plan = plan_search(problem)
    bits = plan.layout.index_bits
    expected = index_probabilities(fresh, bits)
    stored_probabilities = index_probabilities(native_mcx(stored), bits)
    assert np.allclose(stored_probabilities, expected, atol=1e-9)

    marked = plan.marked(problem)
    assert marked
    assert expected[marked].sum() == pytest.approx(
        success_probability(len(marked), 2**bits, 1)
    )
