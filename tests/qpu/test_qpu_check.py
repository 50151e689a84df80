"""``qnrecovery backends --check``: offline validation of the configured targets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnrecovery.cli import app
from qnrecovery.config import TargetsConfig
from qnrecovery.qpu.check import check_targets


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


needs_qpu_extra = pytest.mark.skipif(
    not all(_importable(m) for m in ("dwave.system", "minorminer", "dwave.graphs")),
    reason='needs the qpu extra: pip install "qnrecovery[qpu]"',
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})


def write_config(folder: Path, quantum: str, annealing: str = "neal") -> Path:
    path = folder / "targets.yaml"
    path.write_text(
        f"targets:\n  quantum: {quantum}\n  annealing: {annealing}\n", encoding="utf-8"
    )
    return path


def problems(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("problem:")]


def test_the_default_targets_pass(runner: CliRunner) -> None:
    result = runner.invoke(app, ["backends", "--check"])
    assert result.exit_code == 0, result.output
    assert "ok: quantum target statevector: local simulator" in result.stdout
    assert "ok: annealing target neal: local simulated annealing" in result.stdout
    assert "note: fallback policy fail:" in result.stdout
    assert problems(result.output) == []


def test_a_known_and_an_unknown_fake_device(runner: CliRunner, tmp_path: Path) -> None:
    good = runner.invoke(
        app,
        ["backends", "--check", "--config", str(write_config(tmp_path, "fake:manila"))],
    )
    assert good.exit_code == 0, good.output
    assert "fake device FakeManilaV2 (5 qubits" in good.stdout

    bad = runner.invoke(
        app,
        ["backends", "--check", "--config", str(write_config(tmp_path, "fake:nosuch"))],
    )
    assert bad.exit_code == 1
    assert problems(bad.stderr) == [
        line
        for line in bad.stderr.splitlines()
        if "No fake IBM device is called" in line
    ]
    assert len(problems(bad.stderr)) == 1


def test_ibm_without_and_with_credentials(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(write_config(tmp_path, "ibm:ibm_torino"))
    missing = runner.invoke(app, ["backends", "--check", "--config", config])
    assert missing.exit_code == 1
    (line,) = problems(missing.stderr)
    assert line.startswith("problem: quantum target ibm:ibm_torino: no IBM Quantum")
    assert "set QISKIT_IBM_TOKEN" in line

    monkeypatch.setenv("QISKIT_IBM_TOKEN", "a-token")
    found = runner.invoke(app, ["backends", "--check", "--config", config])
    assert found.exit_code == 0, found.output
    assert "credentials found (environment variable QISKIT_IBM_TOKEN)" in found.stdout
    assert "backend name 'ibm_torino' cannot be verified offline" in found.stdout


@needs_qpu_extra
def test_dwave_without_and_with_a_token(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(write_config(tmp_path, "aer", "dwave:Advantage2_system1.1"))
    missing = runner.invoke(app, ["backends", "--check", "--config", config])
    assert missing.exit_code == 1
    (line,) = problems(missing.stderr)
    assert "no D-Wave token" in line and "set DWAVE_API_TOKEN" in line

    monkeypatch.setenv("DWAVE_API_TOKEN", "a-token")
    found = runner.invoke(app, ["backends", "--check", "--config", config])
    assert found.exit_code == 0, found.output
    assert (
        "solver name 'Advantage2_system1.1' cannot be verified offline" in found.stdout
    )


@needs_qpu_extra
def test_one_line_per_problem(runner: CliRunner, tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "ibm:ibm_kyiv", "dwave-hybrid"))
    result = runner.invoke(app, ["backends", "--check", "--config", config])
    assert result.exit_code == 1
    assert len(problems(result.stderr)) == 2


@needs_qpu_extra
def test_targets_from_the_environment(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QNRECOVERY_QUANTUM_TARGET", "fake:brisbane")
    monkeypatch.setenv("QNRECOVERY_ANNEALING_TARGET", "structured:zephyr")
    result = runner.invoke(app, ["backends", "--check"])
    assert result.exit_code == 0, result.output
    assert "FakeBrisbane (127 qubits" in result.stdout
    assert "on the zephyr QPU graph" in result.stdout


def test_a_bad_config_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("targets:\n  quantum: ibmq\n", encoding="utf-8")
    result = runner.invoke(app, ["backends", "--check", "--config", str(config)])
    assert result.exit_code == 2
    assert "targets.quantum" in result.stderr and "unknown quantum target" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_error_suppression_off_ibm_is_noted() -> None:
    lines = check_targets(
        TargetsConfig(quantum="aer", error_suppression={"dynamical_decoupling": True})
    )
    assert "error_suppression settings apply only to ibm targets" in str(lines[0])


CHECK_WITHOUT_EXTRA = """
import sys, runpy
for name in ("dwave.system", "dwave.cloud", "minorminer", "dwave.graphs"):
    sys.modules[name] = None  # as if the qpu extra were not installed
sys.argv = ["qnrecovery", "backends", "--check"]
runpy.run_module("qnrecovery", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("annealing", "token", "expected"),
    [("structured:pegasus", None, 1), ("dwave:Advantage_system4.1", "a-token", 1)],
)
def test_without_the_qpu_extra_the_check_names_it(
    no_accounts: Path, annealing: str, token: str | None, expected: int
) -> None:
    env = {
        "HOME": str(no_accounts),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "300",
        "QNRECOVERY_ANNEALING_TARGET": annealing,
    }
    if token:
        env["DWAVE_API_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-c", CHECK_WITHOUT_EXTRA],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    lines = problems(done.stderr)
    assert len(lines) == expected
    assert "needs the 'qpu' extra (dwave.system, dwave.cloud, minorminer" in lines[0]
    assert 'pip install "qnrecovery[qpu]"' in lines[0]
