"""The grammar of target strings, checked without importing Qiskit or Ocean.

Quantum targets: ``statevector``, ``aer``, ``fake:<device>``, ``ibm:<backend>``.
Annealing targets: ``neal``, ``structured:<graph>`` (``pegasus``, ``zephyr``
or ``chimera``), ``dwave:<solver>``, ``dwave-hybrid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ANNEALING_TARGET",
    "QUANTUM_TARGET",
    "STRUCTURED_GRAPHS",
    "AnnealingKind",
    "AnnealingSpec",
    "check_quantum_spec",
    "parse_annealing_spec",
]

#: ``kind`` and optional ``:device`` of a quantum target.
QUANTUM_TARGET = re.compile(r"^(statevector|aer|fake|ibm)(?::([A-Za-z0-9_\-]+))?$")

#: ``kind`` and optional ``:name`` of an annealing target.
ANNEALING_TARGET = re.compile(
    r"^(neal|structured|dwave|dwave-hybrid)(?::([A-Za-z0-9_.\-]+))?$"
)

#: Local stand-ins for D-Wave QPU graphs: topology and size of the real chips.
STRUCTURED_GRAPHS: dict[str, tuple[str, int]] = {
    "pegasus": ("pegasus", 16),  # Advantage: P16, 5,640 qubits
    "zephyr": ("zephyr", 12),  # Advantage2: Z12, 4,800 qubits
    "chimera": ("chimera", 16),  # D-Wave 2000Q: C16, 2,048 qubits
}

AnnealingKind = Literal["neal", "structured", "dwave", "dwave-hybrid"]


def check_quantum_spec(spec: str) -> tuple[str, str | None]:
    """Return ``(kind, device)`` of a quantum target string.

    Raises
    ------
    ValueError
        If the string is not a quantum target (the message lists the forms).
    """
    match = QUANTUM_TARGET.match(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"unknown quantum target {spec!r}; use 'statevector', 'aer', "
            "'fake:<device>' or 'ibm:<backend>'"
        )
    kind, device = match.group(1), match.group(2)
    if kind in ("fake", "ibm") and not device:
        raise ValueError(f"target {spec!r} needs a device name: '{kind}:<name>'")
    if kind in ("statevector", "aer") and device:
        raise ValueError(f"target {kind!r} takes no device name; got {spec!r}")
    return kind, device


@dataclass(frozen=True)
class AnnealingSpec:
    """A parsed annealing target.

    Parameters
    ----------
    kind : {'neal', 'structured', 'dwave', 'dwave-hybrid'}
        Local simulated annealing, a local sampler restricted to a QPU graph,
        a D-Wave QPU solver, or Leap's hybrid solvers.
    name : str or None
        Graph name for ``structured``; solver name for ``dwave``.
    """

    kind: AnnealingKind = "neal"
    name: str | None = None

    @property
    def spec(self) -> str:
        """The target as written in a config, e.g. ``'structured:pegasus'``."""
        return self.kind if self.name is None else f"{self.kind}:{self.name}"

    @property
    def is_remote(self) -> bool:
        """Whether the target sends work to D-Wave's cloud."""
        return self.kind in ("dwave", "dwave-hybrid")


def parse_annealing_spec(spec: str | AnnealingSpec) -> AnnealingSpec:
    """Parse ``'neal'``, ``'structured:pegasus'``, ``'dwave:<solver>'``...

    Raises
    ------
    ValueError
        If the string is not an annealing target (the message lists the forms).
    """
    if isinstance(spec, AnnealingSpec):
        return spec
    match = ANNEALING_TARGET.match(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"unknown annealing target {spec!r}; use 'neal' (local simulated "
            "annealing, the default), 'structured:pegasus' or 'structured:zephyr' "
            "(local stand-ins for a QPU graph), 'dwave:<solver>' or 'dwave-hybrid'"
        )
    kind, name = match.group(1), match.group(2)
    if kind in ("neal", "dwave-hybrid") and name:
        raise ValueError(f"annealing target {kind!r} takes no name; got {spec!r}")
    if kind == "dwave" and not name:
        raise ValueError(
            f"annealing target {spec!r} needs a solver name: 'dwave:<solver>' "
            "(e.g. 'dwave:Advantage_system4.1')"
        )
    if kind == "structured" and name not in STRUCTURED_GRAPHS:
        raise ValueError(
            f"annealing target {spec!r} names no known QPU graph; use "
            + ", ".join(f"'structured:{g}'" for g in STRUCTURED_GRAPHS)
        )
    return AnnealingSpec(kind=kind, name=name)  # type: ignore[arg-type]
