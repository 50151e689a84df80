"""Every script in docs/examples runs and prints what its page says it does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from qnrecovery.registry import available

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def registered(kind: str, name: str) -> bool:
    return name in available(kind).get(kind, [])


def needs(kind: str, name: str) -> pytest.MarkDecorator:
    """Skip until backend `kind`=`name` is registered."""
    return pytest.mark.skipif(
        not registered(kind, name),
        reason=f"backend {kind}={name} is not registered yet",
    )


def run_example(script: str, *args: str, timeout: float = 60) -> str:
    """Run one example in a fresh interpreter; return its standard output."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def number(pattern: str, text: str) -> float:
    """The number captured by `pattern` in `text`, which must match."""
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not found in {text!r}"
    return float(match.group(1))


def test_every_example_has_a_test() -> None:
    tested = {
        "train_quantum_predictor.py",
        "grover_recovery_path.py",
        "annealing_placement.py",
        "spiking_nab.py",
        "drill_from_python.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


@needs("predictor", "quantum-kernel")
@pytest.mark.slow
def test_train_quantum_predictor(shared_file: Callable[..., Path]) -> None:
    csv = shared_file("ai4i2020", "ai4i2020.csv")
    out = run_example("train_quantum_predictor.py", str(csv))
    assert "200 training rows, 100 test rows" in out
    for name in ("quantum-kernel ", "quantum-kernel kernel=rbf", "rbf-svc "):
        line = next(x for x in out.splitlines() if x.startswith(name))
        auc = number(r"ROC AUC ([0-9.]+)", line)
        assert 0.0 <= auc <= 1.0
    # The classical twin is a real model on this table, not chance.
    rbf = next(x for x in out.splitlines() if x.startswith("rbf-svc "))
    assert number(r"ROC AUC ([0-9.]+)", rbf) > 0.8


def test_train_quantum_predictor_without_data_says_what_to_pass() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QNRECOVERY_AI4I", "QNRECOVERY_SHARED_DATA")
    }
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_quantum_predictor.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert completed.returncode == 1
    assert "pass the path of ai4i2020.csv" in completed.stderr


@needs("path", "grover")
def test_grover_recovery_path() -> None:
    out = run_example("grover_recovery_path.py")
    lines = {x.split(":")[0].strip(): x for x in out.splitlines() if ": feasible=" in x}
    assert "feasible=True" in lines["grover"] and "feasible=True" in lines["dijkstra"]
    failed = re.search(r"with node (\S+) failed", out)
    path = re.search(r"path=(\[[^\]]*\])", lines["grover"])
    assert failed is not None and path is not None, out
    assert f"'{failed.group(1)}'" not in path.group(1)
    latency = {name: number(r"latency=([0-9.]+)", line) for name, line in lines.items()}
    # Dijkstra is exact; a feasible Grover route cannot beat it.
    assert latency["grover"] >= latency["dijkstra"] - 1e-6
    assert latency["grover"] <= 40


@needs("placer", "annealing")
def test_annealing_placement() -> None:
    out = run_example("annealing_placement.py")
    assert "6 services, 5 hosts" in out
    assert "annealing: feasible=True" in out and "milp: feasible=True" in out
    gap = number(r"annealing is (-?[0-9.]+) % above", out)
    assert gap >= -1e-6
    slots = [x for x in out.splitlines() if " -> " in x]
    assert len(slots) == number(r"(\d+) standby slots", out)


@needs("detector", "spiking")
@pytest.mark.slow
def test_spiking_nab() -> None:
    out = run_example("spiking_nab.py", timeout=240)
    assert "ec2_request_latency_system_failure.csv: 4021 rows, 3 windows" in out
    for name in ("spiking", "zscore"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{name}:"))
        auc = number(r"ROC AUC ([0-9.]+)", line)
        assert 0.0 <= auc <= 1.0


@pytest.mark.slow
@pytest.mark.integration
def test_drill_from_python() -> None:
    out = run_example("drill_from_python.py", timeout=120)
    injected = number(r"faults: (\d+) injected", out)
    assert injected == 4, out
    assert number(r"injected, (\d+) recovered", out) == injected, out
    for tier in ("ultra-critical", "critical"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{tier}:"))
        # Both tiers have a hot standby: no acknowledged write may be lost.
        assert line.endswith("acknowledged writes lost: 0"), out
