"""Offline validation of the configured targets (``qnrecovery backends --check``).

Nothing is sent anywhere: the check looks for credentials (and says where it
found them, never what they are), imports the clients a target needs, and
looks fake devices and QPU graphs up locally. Remote backend and solver names
cannot be verified without contacting the vendor, and the check says so.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.credentials import (
    QPU_EXTRA,
    dwave_credential,
    ibm_credential,
    missing_extra,
)
from qnrecovery.qpu.specs import check_quantum_spec, parse_annealing_spec

if TYPE_CHECKING:
    from qnrecovery.config import TargetsConfig

__all__ = ["CheckLine", "check_targets", "load_targets"]

logger = logging.getLogger(__name__)

Status = Literal["ok", "problem", "note"]


@dataclass(frozen=True)
class CheckLine:
    """One finding of the check.

    Attributes
    ----------
    status : {"ok", "problem", "note"}
        A problem makes ``--check`` exit non-zero; a note is information.
    what : str
        ``quantum``, ``annealing`` or ``fallback``.
    target : str
        The target concerned.
    message : str
        What was found, or what is wrong and what to do.
    """

    status: Status
    what: str
    target: str
    message: str

    def __str__(self) -> str:
        noun = "policy" if self.what == "fallback" else "target"
        return f"{self.status}: {self.what} {noun} {self.target}: {self.message}"


def load_targets(path: Path | str | None = None) -> TargetsConfig:
    """The ``targets`` section of a config file, with environment overrides.

    Raises
    ------
    ConfigError
        If the file or an environment variable is invalid.
    """
    from qnrecovery.config import load_config

    return load_config(path).targets.with_env()


def check_targets(targets: TargetsConfig) -> list[CheckLine]:
    """Check the quantum and annealing targets of `targets` without sending work.

    Returns
    -------
    list of CheckLine
        Findings in order: quantum target, annealing target, fallback policy.
    """
    lines = [*_check_quantum(targets), *_check_annealing(targets)]
    lines.append(
        CheckLine(
            "note",
            "fallback",
            targets.fallback,
            "a failed or timed-out hardware job raises an error"
            if targets.fallback == "fail"
            else "a failed or timed-out hardware job reruns on the local simulator "
            "with a warning and fallback: true in its info",
        )
    )
    return lines


def _check_quantum(targets: TargetsConfig) -> list[CheckLine]:
    spec = targets.quantum
    kind, device = check_quantum_spec(spec)

    def line(status: Status, message: str) -> CheckLine:
        return CheckLine(status, "quantum", spec, message)

    lines = []
    if targets.error_suppression != type(targets.error_suppression)() and kind != "ibm":
        lines.append(
            line("note", "error_suppression settings apply only to ibm targets")
        )
    if kind in ("statevector", "aer"):
        missing = missing_extra(("qiskit", "qiskit_aer"))
        if missing:
            return [*lines, line("problem", f"{', '.join(missing)} not importable")]
        return [*lines, line("ok", "local simulator")]
    if kind == "fake":
        return [*lines, _check_fake(spec, device)]

    credential = ibm_credential(targets.ibm)
    if not credential.found:
        lines.append(
            line(
                "problem",
                f"no IBM Quantum credentials in {credential.source}; set "
                "QISKIT_IBM_TOKEN or save an account with "
                "QiskitRuntimeService.save_account()",
            )
        )
    else:
        lines.append(line("ok", f"credentials found ({credential.source})"))
    if missing_extra(("qiskit_ibm_runtime",)):
        lines.append(line("problem", "qiskit-ibm-runtime is not installed"))
    lines.append(
        line(
            "note",
            f"backend name {device!r} cannot be verified offline; it is checked "
            "when the first job is sent",
        )
    )
    return lines


def _check_fake(spec: str, device: str | None) -> CheckLine:
    from qnrecovery.quantum.targets import load_fake_device

    assert device is not None
    try:
        fake = load_fake_device(device)
    except ConfigError as err:
        return CheckLine("problem", "quantum", spec, str(err))
    return CheckLine(
        "ok",
        "quantum",
        spec,
        f"fake device {type(fake).__name__} ({fake.num_qubits} qubits, Aer with "
        "its noise model)",
    )


def _check_annealing(targets: TargetsConfig) -> list[CheckLine]:
    spec = parse_annealing_spec(targets.annealing)

    def line(status: Status, message: str) -> CheckLine:
        return CheckLine(status, "annealing", spec.spec, message)

    if spec.kind == "neal":
        try:
            importlib.import_module("dwave.samplers")
        except ImportError:
            return [line("problem", "dwave-samplers is not installed")]
        return [line("ok", "local simulated annealing (dwave.samplers)")]

    from qnrecovery.qpu.dwave import EXTRA_MODULES

    lines = []
    missing = missing_extra(EXTRA_MODULES)
    if missing:
        lines.append(
            line(
                "problem",
                f"needs the 'qpu' extra ({', '.join(missing)} not importable); "
                f"install it with: {QPU_EXTRA}",
            )
        )
    if spec.kind == "structured":
        if not missing:
            lines.append(
                line("ok", f"local simulated annealing on the {spec.name} QPU graph")
            )
        return lines

    credential = dwave_credential(targets.dwave)
    if not credential.found:
        lines.append(
            line(
                "problem",
                f"no D-Wave token in {credential.source}; set DWAVE_API_TOKEN or "
                "run 'dwave config create'",
            )
        )
    else:
        lines.append(line("ok", f"credentials found ({credential.source})"))
    what = f"solver name {spec.name!r}" if spec.kind == "dwave" else "hybrid solver"
    lines.append(
        line("note", f"{what} cannot be verified offline; it is checked on first use")
    )
    return lines
