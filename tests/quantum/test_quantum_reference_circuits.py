"""The shipped OpenQASM 3 feature maps and ansätze load back unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.quantum.circuits import (
    REFERENCE_CONFIGS,
    circuits_dir,
    feature_map_circuit,
    load_reference_circuit,
    write_reference_circuits,
)


def _key(name: str) -> str:
    """A parameter's name without QASM's mangling: ``x[3]`` and ``_x_3_`` -> x3."""
    return re.sub(r"[\W_]", "", name)


def _bind(circuit, values: dict[str, float]):
    return circuit.assign_parameters(
        {p: values[_key(p.name)] for p in circuit.parameters}
    )


@pytest.mark.parametrize("config", REFERENCE_CONFIGS, ids=lambda c: c.name)
def test_shipped_circuit_matches_the_library(config):
    built = config.build()
    loaded = load_reference_circuit(config.name)
    assert loaded.num_qubits == built.num_qubits
    assert loaded.num_parameters == built.num_parameters

    rng = np.random.default_rng(0)
    names = [_key(p.name) for p in built.parameters]
    values = dict(zip(names, rng.uniform(0, np.pi, len(names)), strict=True))
    a = Statevector(_bind(built, values)).data
    b = Statevector(_bind(loaded, values)).data
    assert abs(np.vdot(a, b)) == pytest.approx(1.0, abs=1e-10)


def test_every_shipped_file_has_a_configuration():
    shipped = {
        p.stem
        for p in circuits_dir().glob("*.qasm")
        if p.stem.startswith(("featuremap_", "ansatz_"))
    }
    assert shipped == {c.name for c in REFERENCE_CONFIGS}


def test_write_and_load_round_trip(tmp_path):
    written = write_reference_circuits(tmp_path)
    assert len(written) == len(REFERENCE_CONFIGS)
    assert written[0].read_text().startswith("OPENQASM 3.0;")
    load_reference_circuit(REFERENCE_CONFIGS[0].name, tmp_path)


def test_unknown_reference_circuit():
    with pytest.raises(DataError, match=r"No reference circuit 'nope'.*shipped ones"):
        load_reference_circuit("nope")


def test_unknown_feature_map():
    with pytest.raises(ConfigError, match=r"`feature_map` must be one of zz, z, pauli"):
        feature_map_circuit("iqp", 3)
