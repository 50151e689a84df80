"""The IBM hardware path, run against fake devices in the runtime's local mode.

``qiskit-ibm-runtime`` runs a ``Batch``/``Session`` and its sampler locally on
Aer when the backend is a fake device, with the device's noise, basis gates
and coupling map: the same code that sends jobs to a real backend.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from qiskit import QuantumCircuit
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qnrecovery.config import TargetsConfig
from qnrecovery.exceptions import ConfigError, MissingCredentialsError
from qnrecovery.qpu.fallback import QPUJobError
from qnrecovery.qpu.ibm import (
    isa_circuits,
    runtime_sampler,
    sample,
    sample_with_fallback,
    sampler_options,
)
from qnrecovery.quantum.targets import QuantumTarget, parse_target


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def wide(qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits)
    circuit.h(0)
    for q in range(1, qubits):
        circuit.cx(0, q)
    circuit.measure_all()
    return circuit


@pytest.fixture(scope="module")
def manila() -> FakeManilaV2:
    return FakeManilaV2()


def test_isa_circuits_use_only_the_device_gates_and_couplers(
    manila: FakeManilaV2,
) -> None:
    for level in (0, 3):
        (isa,) = isa_circuits(wide(4), manila, optimization_level=level, seed=1)
        basis = set(manila.operation_names)
        coupling = {tuple(edge) for edge in manila.coupling_map.get_edges()}
        for item in isa.data:
            assert item.operation.name in basis | {"barrier", "measure"}
            if item.operation.num_qubits == 2:
                pair = tuple(isa.find_bit(q).index for q in item.qubits)
                assert pair in coupling
    with pytest.raises(ConfigError, match="optimization_level must be 0, 1, 2 or 3"):
        isa_circuits(bell(), manila, optimization_level=5)


def test_settings_become_runtime_sampler_options() -> None:
    targets = TargetsConfig(
        shots=300,
        job_timeout_s=45.5,
        error_suppression={
            "dynamical_decoupling": True,
            "dd_sequence": "XpXm",
            "twirl_gates": True,
            "twirl_measure": True,
        },
    )
    options = sampler_options(targets, seed=4)
    assert options["default_shots"] == 300 and options["max_execution_time"] == 45
    assert options["dynamical_decoupling"] == {"enable": True, "sequence_type": "XpXm"}
    assert options["twirling"] == {"enable_gates": True, "enable_measure": True}
    assert options["simulator"] == {"seed_simulator": 4}


@pytest.mark.parametrize("mode", ["batch", "session", "job"])
def test_a_sampler_job_runs_on_a_fake_device(manila: FakeManilaV2, mode: str) -> None:
    targets = TargetsConfig(
        shots=400,
        optimization_level=2,
        ibm={"execution_mode": mode},
        error_suppression={
            "dynamical_decoupling": mode == "batch",
            "twirl_measure": True,
        },
    )
    result, info = sample([bell(), wide(3)], manila, targets, seed=7)

    counts = result[0].data.meas.get_counts()
    shots = sum(counts.values())
    # Measurement twirling rounds the shots up to whole randomizations.
    assert 400 <= shots < 600
    # Noise leaves a few odd outcomes, but the Bell pair dominates.
    assert 0.8 < (counts.get("00", 0) + counts.get("11", 0)) / shots < 1.0
    assert sum(result[1].data.meas.get_counts().values()) == shots
    assert info["backend"] == "fake_manila" and info["mode"] == mode
    assert info["shots"] == 400 and info["optimization_level"] == 2
    assert len(info["depth"]) == 2 and min(info["two_qubit_gates"]) >= 1
    assert info["error_suppression"]["twirl_measure"] is True


def test_the_batch_sampler_carries_the_options(manila: FakeManilaV2) -> None:
    targets = TargetsConfig(shots=50, error_suppression={"twirl_gates": True})
    sampler = runtime_sampler(manila, targets, seed=1)
    try:
        assert type(sampler.mode).__name__ == "Batch"
        assert sampler.options.default_shots == 50
        assert sampler.options.twirling.enable_gates is True
    finally:
        sampler.mode.close()


def test_a_failing_job_falls_back_to_aer_when_allowed(
    manila: FakeManilaV2, caplog: pytest.LogCaptureFixture
) -> None:
    too_wide = wide(7)  # manila has 5 qubits: transpilation fails for real
    with pytest.raises(QPUJobError, match="job on ibm:fake_manila failed"):
        sample_with_fallback(too_wide, manila, TargetsConfig(shots=64))

    outcome = sample_with_fallback(
        too_wide, manila, TargetsConfig(shots=64, fallback="simulator"), seed=3
    )
    counts = outcome.value[0].data.meas.get_counts()
    assert set(counts) <= {"0000000", "1111111"} and sum(counts.values()) == 64
    assert outcome.info["fallback"] is True and outcome.info["target"] == "aer"
    assert "falling back to the aer" in caplog.text


def test_the_ibm_target_without_an_account_says_what_to_set() -> None:
    target = parse_target("ibm:ibm_torino", shots=100, settings=TargetsConfig())
    assert target.is_noisy and not target.is_exact and target.name == "ibm:ibm_torino"
    with pytest.raises(MissingCredentialsError, match="Set QISKIT_IBM_TOKEN"):
        target.backend()
    with pytest.raises(MissingCredentialsError, match="ibm:ibm_torino"):
        target.sampler()


def test_the_target_repr_hides_the_settings_and_their_token() -> None:
    settings = TargetsConfig(ibm={"token": SecretStr("very-secret-value")})
    target = parse_target("ibm:ibm_kyiv", settings=settings)
    assert "very-secret-value" not in repr(target)
    assert target == QuantumTarget(kind="ibm", device="ibm_kyiv")


def test_an_ibm_target_samples_through_the_runtime_batch(
    manila: FakeManilaV2, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backend the service would return, here the fake device in local mode.
    from qnrecovery.quantum import targets

    monkeypatch.setitem(targets._IBM_BACKENDS, ("fake_manila", None), manila)
    target = parse_target("ibm:fake_manila", shots=200, seed=3, optimization_level=2)

    (isa,) = target.transpile([bell()])
    sampler = target.sampler()
    try:
        assert type(sampler.mode).__name__ == "Batch"
        assert sampler.options.default_shots == 200
        counts = sampler.run([isa]).result()[0].data.meas.get_counts()
    finally:
        sampler.mode.close()
    assert sum(counts.values()) == 200
    assert counts.get("00", 0) + counts.get("11", 0) > 160
