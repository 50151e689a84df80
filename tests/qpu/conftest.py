"""Fixtures of the hardware-target tests: no real account is ever reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

#: A made-up token planted to prove it never leaks.
PLANTED = "qnr-planted-7f3c9e1d5b-token"


@pytest.fixture
def planted() -> str:
    """A made-up token; tests search every output for it."""
    return PLANTED


_VARIABLES = (
    "QISKIT_IBM_TOKEN",
    "QISKIT_IBM_CHANNEL",
    "QISKIT_IBM_INSTANCE",
    "QISKIT_IBM_URL",
    "DWAVE_API_TOKEN",
    "DWAVE_CONFIG_FILE",
    "DWAVE_PROFILE",
    "QNRECOVERY_QUANTUM_TARGET",
    "QNRECOVERY_ANNEALING_TARGET",
    "QNRECOVERY_FALLBACK",
)


@pytest.fixture(autouse=True)
def no_accounts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty home folder and no credential variables; returns the home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home
