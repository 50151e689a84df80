"""Where tokens are found, and the errors that say what to set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from qnrecovery.config import DWaveConfig, IBMConfig
from qnrecovery.exceptions import ConfigError, MissingCredentialsError
from qnrecovery.qpu.credentials import (
    QPU_EXTRA,
    dwave_credential,
    ibm_credential,
    missing_extra,
    redact,
    require_dwave_token,
    require_ibm_token,
    require_module,
)

PLANTED = "qnr-planted-7f3c9e1d5b-token"  # the conftest's planted token


def save_ibm_account(home: Path, **accounts: dict) -> Path:
    file = home / ".qiskit" / "qiskit-ibm.json"
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps(accounts), encoding="utf-8")
    return file


def test_no_ibm_token_anywhere() -> None:
    credential = ibm_credential()
    assert not credential.found
    assert "QISKIT_IBM_TOKEN" in credential.source
    with pytest.raises(MissingCredentialsError, match="Set QISKIT_IBM_TOKEN"):
        require_ibm_token(None, target="ibm:ibm_torino")


def test_ibm_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", PLANTED)
    credential = ibm_credential(IBMConfig())
    assert credential.found and credential.token is not None
    assert credential.token.get_secret_value() == PLANTED
    assert credential.source == "environment variable QISKIT_IBM_TOKEN"
    assert PLANTED not in repr(credential) and PLANTED not in str(credential)


def test_the_config_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "from-env")
    credential = ibm_credential(IBMConfig(token=SecretStr(PLANTED)))
    assert credential.source == "config key targets.ibm.token"


def test_ibm_saved_account(no_accounts: Path) -> None:
    file = save_ibm_account(
        no_accounts,
        **{
            "other": {"channel": "ibm_cloud", "token": "x"},
            "default-ibm-quantum-platform": {
                "channel": "ibm_quantum_platform",
                "token": PLANTED,
                "instance": "crn:abc",
                "is_default_account": True,
            },
        },
    )

    credential = ibm_credential()
    assert credential.found and credential.source == f"saved account in {file}"
    assert credential.extra == {
        "channel": "ibm_quantum_platform",
        "instance": "crn:abc",
    }
    assert ibm_credential(IBMConfig(account_name="other")).extra == {
        "channel": "ibm_cloud"
    }
    assert not ibm_credential(IBMConfig(account_name="nobody")).found


def test_a_corrupt_account_file_counts_as_none(
    no_accounts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = no_accounts / ".qiskit" / "qiskit-ibm.json"
    file.parent.mkdir()
    file.write_text("{not json", encoding="utf-8")
    assert not ibm_credential().found
    assert "could not be read" in caplog.text


def test_dwave_token_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not dwave_credential().found
    with pytest.raises(MissingCredentialsError, match="Set DWAVE_API_TOKEN"):
        require_dwave_token(None, target="dwave-hybrid")

    try:
        from dwave.cloud.config import load_config  # noqa: F401
    except ImportError:
        pytest.skip("reading the dwave config file needs the qpu extra")
    conf = tmp_path / "dwave.conf"
    conf.write_text(f"[defaults]\ntoken = {PLANTED}\n", encoding="utf-8")
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(conf))
    assert dwave_credential().source == "the dwave config file"

    monkeypatch.setenv("DWAVE_API_TOKEN", "env-token")
    assert dwave_credential().source == "environment variable DWAVE_API_TOKEN"
    configured = dwave_credential(DWaveConfig(token=SecretStr(PLANTED)))
    assert configured.source == "config key targets.dwave.token"


def test_redact_masks_every_secret() -> None:
    text = f"401 for {PLANTED} at /v1?key={PLANTED}"
    assert redact(text, SecretStr(PLANTED), None, "") == (
        "401 for ********** at /v1?key=**********"
    )


def test_a_missing_module_names_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"pip install \"qnrecovery\[qpu\]\""):
        require_module("qnrecovery_no_such_client", target="dwave-hybrid")
    assert missing_extra(("json", "qnrecovery_no_such_client")) == [
        "qnrecovery_no_such_client"
    ]
    assert QPU_EXTRA == 'pip install "qnrecovery[qpu]"'


BLOCK_EXTRA = """
import sys
for name in ("dwave.system", "dwave.cloud", "minorminer", "dwave.graphs"):
    sys.modules[name] = None  # as if the qpu extra were not installed
"""


def run_without_extra(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_EXTRA + code],
        capture_output=True,
        text=True,
        timeout=120,
    )


SPECS = ("structured:pegasus", "dwave:Advantage2", "dwave-hybrid")

WITHOUT_EXTRA = f"""
import dimod
from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.dwave import annealing_sampler, sample_cqm

for spec in {SPECS!r}:
    try:
        annealing_sampler(spec)
    except ConfigError as err:
        print("ERROR", err)
try:
    sample_cqm(dimod.ConstrainedQuadraticModel(), "dwave-hybrid")
except ConfigError as err:
    print("ERROR", err)
bqm = dimod.BinaryQuadraticModel({{"a": -1.0}}, {{}}, 0.0, "BINARY")
print("NEAL", annealing_sampler("neal").sample(bqm, num_reads=3, seed=0).first.energy)
"""


def test_choosing_a_dwave_target_without_the_extra_names_it() -> None:
    done = run_without_extra(WITHOUT_EXTRA)
    assert done.returncode == 0, done.stderr[-2000:]
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    expected = [*SPECS, "dwave-hybrid"]
    assert len(errors) == len(expected)
    for line, spec in zip(errors, expected, strict=True):
        assert line.startswith(f"ERROR Target {spec!r} needs dwave.system")
        assert line.endswith('pip install "qnrecovery[qpu]"')
    # The default target needs no extra.
    assert "NEAL -1.0" in done.stdout
