"""A planted token never reaches a log line, an output, an error or a repr."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnrecovery.cli import app
from qnrecovery.config import load_config
from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.check import check_targets, load_targets
from qnrecovery.qpu.credentials import dwave_credential, ibm_credential
from qnrecovery.qpu.fallback import QPUJobError, run_with_fallback
from qnrecovery.qpu.ibm import ibm_backend


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


#: Without the qpu extra, --check reports it as a problem (exit 1).
CHECK_EXIT = 0 if all(_importable(m) for m in ("dwave.system", "minorminer")) else 1


def config_with_tokens(folder: Path, token: str, extra: str = "") -> Path:
    path = folder / "secret.yaml"
    path.write_text(
        "targets:\n"
        "  quantum: ibm:ibm_torino\n"
        "  annealing: dwave:Advantage_system4.1\n"
        f"  ibm:\n    token: {token}\n{extra}"
        f"  dwave:\n    token: {token}\n",
        encoding="utf-8",
    )
    return path


class RefusingService:
    """A runtime service stand-in whose refusal quotes the token, as some do."""

    def __init__(self, token: str) -> None:
        self.token = token

    def backend(self, name: str) -> None:
        raise PermissionError(f"token {self.token} may not use {name}")


def test_a_planted_token_never_leaks(
    planted: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", planted)
    monkeypatch.setenv("DWAVE_API_TOKEN", planted)
    path = config_with_tokens(tmp_path, planted)
    seen: list[str] = []

    # Config objects: repr, str, JSON.
    config = load_config(path)
    assert config.targets.ibm.token is not None
    assert config.targets.ibm.token.get_secret_value() == planted
    seen += [repr(config), str(config), config.model_dump_json()]
    seen.append(json.dumps(config.model_dump(mode="json")))
    seen += [repr(ibm_credential(config.targets.ibm))]
    seen += [repr(dwave_credential(config.targets.dwave))]

    # The check, in Python and on the command line (verbose logging on).
    seen += [str(line) for line in check_targets(load_targets(path))]
    result = CliRunner().invoke(
        app, ["-vv", "backends", "--check", "--config", str(path)]
    )
    assert result.exit_code == CHECK_EXIT, result.output
    seen += [result.stdout, result.stderr]

    # Errors that quote the token on their way up.
    with pytest.raises(ConfigError) as refused:
        ibm_backend("ibm_torino", config.targets.ibm, service=RefusingService(planted))
    seen += [str(refused.value), repr(refused.value), repr(refused.value.__cause__)]

    def job() -> None:
        raise ConnectionError(f"401 Unauthorized for token={planted}")

    with pytest.raises(QPUJobError) as failed:
        run_with_fallback(job, lambda: None, secrets=(config.targets.ibm.token,))
    assert failed.value.__cause__ is None
    seen += [str(failed.value), repr(failed.value)]
    outcome = run_with_fallback(
        job, lambda: 0, policy="simulator", secrets=(config.targets.dwave.token,)
    )
    seen.append(json.dumps(outcome.info))
    assert "**********" in outcome.info["reason"]

    # A file with a token and a mistake: the error names the key only.
    bad = config_with_tokens(tmp_path, planted, extra="    channel: nope\n")
    with pytest.raises(ConfigError) as invalid:
        load_config(bad)
    seen.append(str(invalid.value))

    seen.append(caplog.text)
    assert len(caplog.records) > 0
    leaks = [text for text in seen if planted in text]
    assert leaks == []
