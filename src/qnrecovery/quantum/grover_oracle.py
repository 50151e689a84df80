"""The Grover circuit of a path problem: data loading, oracle and diffusion.

Registers (qubit 0 of each register is its least significant bit):

``idx`` (``n`` qubits)
    The candidate index, put in uniform superposition.
``fail{j}`` (``m`` qubits each, one per failed element that some candidate uses)
    The id of the ``j``-th failed element, written with X gates from the
    problem's failed nodes and links when the circuit starts: the raw failure
    data, never changed afterwards.
``hit`` (one qubit per failure register)
    ``hit[j] = 1`` when the indexed candidate uses the element in ``fail{j}``.
``lat`` (``b`` qubits)
    The indexed candidate's fixed-point latency, loaded by a lookup (QROM).
``lat_ok`` (1 qubit)
    ``lat <= budget``, from an integer comparator.

One oracle call computes, for the index in superposition:

1. **lookup**: for every candidate ``c`` and every set bit ``k`` of its
   latency value, an MCX controlled on ``idx == c`` flips ``lat[k]``
   (padding indices beyond the last candidate load the saturated value);
2. **failure check**: for every candidate ``c``, every element ``e`` it uses
   and every failure register ``j``, an MCX controlled on ``idx == c`` and
   ``fail{j} == id(e)`` flips ``hit[j]``; a route uses an element at most
   once, so ``hit[j]`` ends as "candidate uses the failed element ``j``";
3. **budget check**: the comparator ``lat <= T`` as a sum of disjoint bit
   patterns (for ``x < K``: the most significant bit where ``K`` has a 1 and
   ``x`` a 0, all higher bits equal), one MCX per pattern onto ``lat_ok``;
4. **phase**: a multi-controlled Z on ``lat_ok = 1`` and every ``hit[j] = 0``
   — and, during Dürr-Høyer descent, on ``idx < y`` (again as disjoint
   patterns, one controlled Z each);
5. **uncomputation**: steps 3, 2, 1 reversed, so every register but ``idx``
   returns to its data.

Every gate is an X, H, Z or :class:`~qiskit.circuit.library.MCXGate`; open
controls are X conjugations, and consecutive ones that cancel are never
emitted.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "GroverLayout",
    "build_diffusion",
    "build_oracle",
    "build_preparation",
    "grover_circuit",
    "less_than_patterns",
    "optimal_iterations",
    "success_probability",
]

#: A bit pattern on a register: bit position -> required value.
Pattern = dict[int, int]


def less_than_patterns(bound: int, bits: int) -> list[Pattern]:
    """Disjoint bit patterns whose union is ``x < bound`` on ``bits`` bits.

    ``[{}]`` (one empty pattern) means always true; ``[]`` means never.
    """
    if bound >= 2**bits:
        return [{}]
    patterns = []
    for position in reversed(range(bits)):
        if (bound >> position) & 1:
            pattern = {
                higher: (bound >> higher) & 1 for higher in range(position + 1, bits)
            }
            pattern[position] = 0
            patterns.append(pattern)
    return patterns


@dataclass(frozen=True)
class GroverLayout:
    """What the circuit encodes; everything comes from the problem's data.

    Attributes
    ----------
    index_bits : int
        ``n``, width of the index register.
    latency_values : tuple of int
        Fixed-point latency of each candidate.
    latency_bits : int
        ``b``, width of the latency register.
    latency_threshold : int
        The budget in fixed point.
    candidate_elements : tuple of tuple of int
        Element ids of each candidate.
    element_bits : int
        ``m``, width of each failure register.
    failed_ids : tuple of int
        Ids of the failed elements, one failure register each.
    """

    index_bits: int
    latency_values: tuple[int, ...]
    latency_bits: int
    latency_threshold: int
    candidate_elements: tuple[tuple[int, ...], ...]
    element_bits: int
    failed_ids: tuple[int, ...]

    @property
    def size(self) -> int:
        """``2**n``, the size of the search space (padding included)."""
        return 2**self.index_bits

    @property
    def num_qubits(self) -> int:
        """Every qubit of the circuit."""
        slots = len(self.failed_ids)
        return self.index_bits + slots * (self.element_bits + 1) + self.latency_bits + 1

    def registers(self) -> dict[str, Any]:
        """Fresh registers, by role."""
        from qiskit import QuantumRegister

        return {
            "idx": QuantumRegister(self.index_bits, "idx"),
            "fail": [
                QuantumRegister(self.element_bits, f"fail{j}")
                for j in range(len(self.failed_ids))
            ],
            "hit": (
                QuantumRegister(len(self.failed_ids), "hit")
                if self.failed_ids
                else None
            ),
            "lat": QuantumRegister(self.latency_bits, "lat"),
            "ok": QuantumRegister(1, "lat_ok"),
        }

    def empty_circuit(self, name: str) -> tuple[QuantumCircuit, dict[str, Any]]:
        """A circuit holding every register, and the registers."""
        from qiskit import QuantumCircuit

        regs = self.registers()
        parts = [regs["idx"], *regs["fail"]]
        if regs["hit"] is not None:
            parts.append(regs["hit"])
        parts += [regs["lat"], regs["ok"]]
        return QuantumCircuit(*parts, name=name), regs

    def padded_latency(self, index: int) -> int:
        """The latency value the lookup loads for ``index`` (padding saturates)."""
        if index < len(self.latency_values):
            return self.latency_values[index]
        return 2**self.latency_bits - 1


@functools.cache
def _mcx(num_controls: int) -> Any:
    """One shared MCX gate per size, so an exported circuit defines it once."""
    from qiskit.circuit.library import MCXGate

    return MCXGate(num_controls)


class _PatternWriter:
    """Emits multi-controlled gates on bit patterns, keeping X flips lazy."""

    def __init__(self, circuit: QuantumCircuit) -> None:
        self.circuit = circuit
        self.flipped: set[Any] = set()

    def _match(self, controls: Sequence[tuple[Any, int]]) -> list[Any]:
        for qubit, value in controls:
            if (value == 0) != (qubit in self.flipped):
                self.circuit.x(qubit)
                self.flipped ^= {qubit}
        return [qubit for qubit, _ in controls]

    def mcx(self, controls: Sequence[tuple[Any, int]], target: Any) -> None:
        """Flip ``target`` when every control qubit has its value."""
        qubits = self._match(controls)
        if target in self.flipped:
            self.circuit.x(target)
            self.flipped.discard(target)
        if qubits:
            self.circuit.append(_mcx(len(qubits)), [*qubits, target])
        else:
            self.circuit.x(target)

    def mcz(self, controls: Sequence[tuple[Any, int]]) -> None:
        """Phase -1 when every control qubit has its value."""
        qubits = self._match(controls)
        *others, last = qubits
        if not others:
            self.circuit.z(last)
            return
        self.circuit.h(last)
        self.circuit.append(_mcx(len(others)), [*others, last])
        self.circuit.h(last)

    def flush(self) -> None:
        """Undo every pending X flip."""
        for qubit in sorted(self.flipped, key=lambda q: self.circuit.find_bit(q).index):
            self.circuit.x(qubit)
        self.flipped.clear()


def _bits(register: Any, value: int) -> list[tuple[Any, int]]:
    return [(register[k], (value >> k) & 1) for k in range(len(register))]


def _pattern(register: Any, pattern: Pattern) -> list[tuple[Any, int]]:
    return [(register[k], v) for k, v in sorted(pattern.items(), reverse=True)]


def _compute(layout: GroverLayout) -> QuantumCircuit:
    """Steps 1-3 of the oracle: lookup, failure check, budget check."""
    circuit, regs = layout.empty_circuit("compute")
    writer = _PatternWriter(circuit)
    idx, lat = regs["idx"], regs["lat"]

    for index in range(layout.size):
        value = layout.padded_latency(index)
        for k in range(layout.latency_bits):
            if (value >> k) & 1:
                writer.mcx(_bits(idx, index), lat[k])

    for index, elements in enumerate(layout.candidate_elements):
        for j, fail in enumerate(regs["fail"]):
            for element in elements:
                writer.mcx(_bits(idx, index) + _bits(fail, element), regs["hit"][j])

    limit = layout.latency_threshold + 1
    for pattern in less_than_patterns(limit, layout.latency_bits):
        writer.mcx(_pattern(lat, pattern), regs["ok"][0])
    writer.flush()
    return circuit


def build_oracle(layout: GroverLayout, below: int | None = None) -> QuantumCircuit:
    """The phase oracle: -1 on feasible candidates (and index < ``below``).

    Parameters
    ----------
    layout : GroverLayout
    below : int, optional
        Dürr-Høyer threshold: mark only indices below it.

    Returns
    -------
    QuantumCircuit
        On the layout's registers; every register but ``idx`` is restored.
    """
    compute = _compute(layout)
    circuit, regs = layout.empty_circuit("oracle")
    circuit.compose(compute, inplace=True)

    writer = _PatternWriter(circuit)
    conjunction = [(regs["ok"][0], 1)]
    if regs["hit"] is not None:
        conjunction += [(q, 0) for q in regs["hit"]]
    bound = layout.size if below is None else below
    for pattern in less_than_patterns(bound, layout.index_bits):
        writer.mcz(conjunction + _pattern(regs["idx"], pattern))
    writer.flush()

    circuit.compose(compute.inverse(), inplace=True)
    return circuit


def build_diffusion(layout: GroverLayout) -> QuantumCircuit:
    """Inversion about the mean on ``idx`` (up to a global phase)."""
    circuit, regs = layout.empty_circuit("diffusion")
    idx = regs["idx"]
    circuit.h(idx)
    writer = _PatternWriter(circuit)
    writer.mcz([(q, 0) for q in reversed(list(idx))])
    writer.flush()
    circuit.h(idx)
    return circuit


def build_preparation(layout: GroverLayout) -> QuantumCircuit:
    """Load the failure data and spread ``idx`` uniformly."""
    circuit, regs = layout.empty_circuit("preparation")
    for fail, element in zip(regs["fail"], layout.failed_ids, strict=True):
        for k in range(layout.element_bits):
            if (element >> k) & 1:
                circuit.x(fail[k])
    circuit.h(regs["idx"])
    return circuit


def grover_circuit(
    layout: GroverLayout,
    iterations: int,
    below: int | None = None,
    *,
    measure: bool = False,
    iteration: QuantumCircuit | None = None,
) -> QuantumCircuit:
    """Preparation then ``iterations`` rounds of oracle and diffusion.

    Parameters
    ----------
    layout : GroverLayout
    iterations : int
        Grover iterations (oracle calls).
    below : int, optional
        Dürr-Høyer threshold passed to :func:`build_oracle`.
    measure : bool, default=False
        Measure ``idx`` into a classical register ``c``.
    iteration : QuantumCircuit, optional
        A prebuilt oracle plus diffusion for the same ``below``.

    Returns
    -------
    QuantumCircuit
    """
    from qiskit import ClassicalRegister

    if iteration is None:
        iteration = build_oracle(layout, below)
        iteration.compose(build_diffusion(layout), inplace=True)
    circuit = build_preparation(layout)
    circuit.name = f"grover_{iterations}"
    for _ in range(iterations):
        circuit.compose(iteration, inplace=True)
    if measure:
        creg = ClassicalRegister(layout.index_bits, "c")
        circuit.add_register(creg)
        circuit.measure(circuit.qregs[0], creg)
    return circuit


def optimal_iterations(marked: int, size: int) -> int:
    """``floor(pi / (4 asin sqrt(M / N)))``; 0 when ``M`` is 0 or ``N``."""
    if marked <= 0 or marked >= size:
        return 0
    return math.floor(math.pi / (4 * math.asin(math.sqrt(marked / size))))


def success_probability(marked: int, size: int, iterations: int) -> float:
    """``sin^2((2k + 1) theta)`` with ``sin^2 theta = M / N``."""
    if marked <= 0:
        return 0.0
    theta = math.asin(math.sqrt(min(1.0, marked / size)))
    return math.sin((2 * iterations + 1) * theta) ** 2
