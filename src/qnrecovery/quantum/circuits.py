"""Feature maps and ansätze of the quantum predictors, and their reference files.

The predictors build their circuits here, from the Qiskit circuit-library
functions (``zz_feature_map``, ``z_feature_map``, ``pauli_feature_map``,
``real_amplitudes``). :data:`REFERENCE_CONFIGS` lists the configurations the
package ships; :func:`write_reference_circuits` stores each as OpenQASM 3 in
``circuits/`` (``featuremap_<name>.qasm``, ``ansatz_<name>.qasm``) for QPU
runs and regression tests, and :func:`load_reference_circuit` reads one back.

Examples
--------
>>> from qnrecovery.quantum.circuits import feature_map_circuit
>>> feature_map_circuit("zz", 3, reps=1, entanglement="linear").num_parameters
3
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qnrecovery.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "FEATURE_MAPS",
    "REFERENCE_CONFIGS",
    "CircuitConfig",
    "ansatz_circuit",
    "circuits_dir",
    "feature_map_circuit",
    "load_reference_circuit",
    "write_reference_circuits",
]

logger = logging.getLogger(__name__)

#: Feature maps the predictors offer.
FEATURE_MAPS = ("zz", "z", "pauli")


def feature_map_circuit(
    kind: str,
    num_qubits: int,
    *,
    reps: int = 2,
    entanglement: str | Sequence[Sequence[int]] = "full",
    alpha: float = 2.0,
    paulis: Sequence[str] = ("Z", "ZZ"),
) -> QuantumCircuit:
    """Build a feature map with one parameter per qubit.

    Parameters
    ----------
    kind : {"zz", "z", "pauli"}
        ``zz_feature_map`` (``z_feature_map`` on one qubit, where no pair
        exists), ``z_feature_map`` or ``pauli_feature_map`` with `paulis`.
    num_qubits : int
    reps : int, default=2
    entanglement : str or list of pairs, default="full"
    alpha : float, default=2.0
    paulis : sequence of str, default=("Z", "ZZ")
        Pauli strings of the ``pauli`` map.

    Returns
    -------
    QuantumCircuit

    Raises
    ------
    ConfigError
        If `kind` is unknown.
    """
    from qiskit.circuit.library import (
        pauli_feature_map,
        z_feature_map,
        zz_feature_map,
    )

    ent: Any = entanglement
    if not isinstance(entanglement, str):
        # Qiskit takes explicit connections per Pauli-string length.
        ent = {
            1: [(q,) for q in range(num_qubits)],
            2: [tuple(pair) for pair in entanglement],
        }
    if kind == "z" or (kind == "zz" and num_qubits == 1):
        return z_feature_map(num_qubits, reps=reps, alpha=alpha)
    if kind == "zz":
        return zz_feature_map(num_qubits, reps=reps, entanglement=ent, alpha=alpha)
    if kind == "pauli":
        return pauli_feature_map(
            num_qubits, reps=reps, entanglement=ent, alpha=alpha, paulis=list(paulis)
        )
    raise ConfigError(
        f"`feature_map` must be one of {', '.join(FEATURE_MAPS)}; got {kind!r}."
    )


def ansatz_circuit(
    num_qubits: int, *, reps: int = 2, entanglement: str = "reverse_linear"
) -> QuantumCircuit:
    """Build the variational ansatz: ``real_amplitudes`` (RY layers and CX)."""
    from qiskit.circuit.library import real_amplitudes

    return real_amplitudes(num_qubits, reps=reps, entanglement=entanglement)


@dataclass(frozen=True)
class CircuitConfig:
    """One shipped circuit configuration.

    Attributes
    ----------
    name : str
        File stem, ``featuremap_<...>`` or ``ansatz_<...>``.
    role : {"featuremap", "ansatz"}
    num_qubits : int
    options : dict
        Keyword arguments of :func:`feature_map_circuit` or
        :func:`ansatz_circuit`.
    kind : str
        Feature-map kind (unused for ansätze).
    """

    name: str
    role: str
    num_qubits: int
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = "zz"

    def build(self) -> QuantumCircuit:
        """Build the circuit from the library functions."""
        if self.role == "ansatz":
            return ansatz_circuit(self.num_qubits, **self.options)
        return feature_map_circuit(self.kind, self.num_qubits, **self.options)


def _zz(entanglement: str, reps: int) -> CircuitConfig:
    return CircuitConfig(
        f"featuremap_zz_{entanglement}_r{reps}_q8",
        "featuremap",
        8,
        {"reps": reps, "entanglement": entanglement},
    )


#: Configurations the predictors ship with (8 qubits, the drill's width).
REFERENCE_CONFIGS: tuple[CircuitConfig, ...] = (
    _zz("full", 2),
    _zz("linear", 2),
    _zz("circular", 2),
    _zz("linear", 1),
    CircuitConfig("featuremap_z_r2_q8", "featuremap", 8, {"reps": 2}, kind="z"),
    CircuitConfig(
        "featuremap_pauli_z_yy_linear_r2_q8",
        "featuremap",
        8,
        {"reps": 2, "entanglement": "linear", "paulis": ("Z", "YY")},
        kind="pauli",
    ),
    CircuitConfig(
        "ansatz_real_amplitudes_reverse_linear_r2_q8",
        "ansatz",
        8,
        {"reps": 2, "entanglement": "reverse_linear"},
    ),
    CircuitConfig(
        "ansatz_real_amplitudes_full_r3_q4",
        "ansatz",
        4,
        {"reps": 3, "entanglement": "full"},
    ),
)


def circuits_dir() -> Path:
    """The folder of the reference circuits (installed or in a source tree)."""
    installed = importlib.resources.files("qnrecovery") / "circuits"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[3] / "circuits"


def write_reference_circuits(directory: Path | None = None) -> list[Path]:
    """Write every configuration of :data:`REFERENCE_CONFIGS` as OpenQASM 3.

    Returns
    -------
    list of Path
        The files written.
    """
    from qiskit import qasm3

    directory = directory if directory is not None else circuits_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for config in REFERENCE_CONFIGS:
        circuit = config.build()
        path = directory / f"{config.name}.qasm"
        path.write_text(qasm3.dumps(circuit) + "\n")
        written.append(path)
    logger.info("Wrote %d reference circuits to %s", len(written), directory)
    return written


def load_reference_circuit(name: str, directory: Path | None = None) -> QuantumCircuit:
    """Read the reference circuit `name` (file stem) back from OpenQASM 3.

    Raises
    ------
    DataError
        If no such file exists.
    """
    from qiskit import qasm3

    path = (directory if directory is not None else circuits_dir()) / f"{name}.qasm"
    if not path.is_file():
        known = ", ".join(c.name for c in REFERENCE_CONFIGS)
        raise DataError(
            f"No reference circuit {name!r} at {path}; the shipped ones are {known}."
        )
    return qasm3.loads(path.read_text())
