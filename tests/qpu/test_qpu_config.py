"""The ``targets`` section of the drill config: defaults, validation, env."""

from __future__ import annotations

from pathlib import Path

import pytest

from qnrecovery.config import DrillConfig, TargetsConfig, load_config
from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.specs import AnnealingSpec, parse_annealing_spec


def test_defaults_are_local_simulators() -> None:
    targets = DrillConfig().targets
    assert (targets.quantum, targets.annealing) == ("statevector", "neal")
    assert targets.fallback == "fail"
    assert (targets.optimization_level, targets.shots) == (1, 1024)
    assert targets.ibm.execution_mode == "batch"
    assert targets.ibm.token is None and targets.dwave.token is None
    assert not targets.error_suppression.dynamical_decoupling


YAML = """\
targets:
  quantum: ibm:ibm_torino
  annealing: structured:zephyr
  fallback: simulator
  optimization_level: 3
  shots: 4000
  job_timeout_s: 120
  error_suppression:
    dynamical_decoupling: true
    dd_sequence: XY4
    twirl_measure: true
  ibm:
    channel: ibm_cloud
    instance: my-instance
  dwave:
    num_reads: 50
    chain_strength: 2.5
    chain_break_method: discard
"""


def test_a_yaml_file_sets_every_target_setting(tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(YAML, encoding="utf-8")

    targets = load_config(path).targets
    assert (targets.quantum, targets.annealing) == (
        "ibm:ibm_torino",
        "structured:zephyr",
    )
    assert (targets.fallback, targets.optimization_level) == ("simulator", 3)
    assert (targets.shots, targets.job_timeout_s) == (4000, 120.0)
    assert targets.error_suppression.dd_sequence == "XY4"
    assert targets.error_suppression.twirl_measure
    assert (targets.ibm.channel, targets.ibm.instance) == ("ibm_cloud", "my-instance")
    assert (targets.dwave.num_reads, targets.dwave.chain_strength) == (50, 2.5)
    assert targets.dwave.chain_break_method == "discard"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"quantum": "ibmq"}, "targets.quantum: .*unknown quantum target 'ibmq'"),
        ({"quantum": "fake"}, "targets.quantum: .*needs a device name"),
        ({"quantum": "aer:manila"}, "targets.quantum: .*takes no device name"),
        ({"annealing": "dwave"}, "targets.annealing: .*needs a solver name"),
        ({"annealing": "neal:x"}, "targets.annealing: .*takes no name"),
        ({"annealing": "structured:torus"}, "targets.annealing: .*no known QPU graph"),
        ({"annealing": "qbsolv"}, "targets.annealing: .*unknown annealing target"),
        ({"fallback": "retry"}, "targets.fallback: Input should be 'fail' or"),
        ({"optimization_level": 4}, "targets.optimization_level: .*less than or equal"),
        ({"shots": 0}, "targets.shots: .*greater than or equal to 1"),
        ({"job_timeout_s": 0}, "targets.job_timeout_s: .*greater than 0"),
        ({"ibm": {"channel": "ibm_quantum"}}, "targets.ibm.channel: Input should be"),
        ({"ibm": {"execution_mode": "x"}}, "targets.ibm.execution_mode"),
        ({"dwave": {"chain_strength": -1}}, "targets.dwave.chain_strength"),
        ({"dwave": {"num_reads": 0}}, "targets.dwave.num_reads"),
        ({"dwave": {"chain_break_method": "vote"}}, "targets.dwave.chain_break_"),
        ({"error_suppression": {"dd_sequence": "X"}}, "error_suppression.dd_sequence"),
        ({"qpu": "x"}, "targets.qpu: unknown key"),
    ],
)
def test_bad_target_settings_name_the_key(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(targets=settings)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QNRECOVERY_QUANTUM_TARGET", "fake:manila")
    monkeypatch.setenv("QNRECOVERY_ANNEALING_TARGET", "structured:pegasus")
    monkeypatch.setenv("QNRECOVERY_FALLBACK", "simulator")

    targets = TargetsConfig(quantum="aer", shots=10).with_env()
    assert (targets.quantum, targets.annealing) == ("fake:manila", "structured:pegasus")
    assert (targets.fallback, targets.shots) == ("simulator", 10)


def test_a_bad_environment_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="environment: fallback: Input should be"):
        TargetsConfig().with_env({"QNRECOVERY_FALLBACK": "maybe"})


def test_annealing_specs_parse() -> None:
    assert parse_annealing_spec("neal") == AnnealingSpec("neal")
    assert parse_annealing_spec(" dwave:Advantage_system4.1 ").name == (
        "Advantage_system4.1"
    )
    assert parse_annealing_spec("dwave-hybrid").is_remote
    assert not parse_annealing_spec("structured:zephyr").is_remote
