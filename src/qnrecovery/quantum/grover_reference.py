"""Reference problems of the Grover path searcher and their circuits.

Each reference circuit is one Grover iteration with the problem's data
loaded (failure registers written, index in superposition, oracle, diffusion,
measurement of the index). They are stored in ``circuits/`` as OpenQASM 3
(``circuits/grover_<name>.qasm``) for runs elsewhere and for regression
tests; :func:`write_reference_circuits` regenerates them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PathProblem
from qnrecovery.quantum.grover import plan_search
from qnrecovery.quantum.grover_oracle import _mcx, grover_circuit

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "REFERENCE_NAMES",
    "reference_circuit",
    "reference_problem",
    "write_reference_circuits",
]

logger = logging.getLogger(__name__)

REFERENCE_NAMES = ("ring", "abilene")


def _ring() -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for u, v, latency in [
        ("s", "a", 1.0),
        ("a", "t", 1.0),
        ("s", "b", 2.0),
        ("b", "t", 2.0),
        ("s", "t", 10.0),
        ("s", "a", 0.5),
    ]:
        graph.add_edge(u, v, latency_ms=latency)
    return graph


def reference_problem(name: str) -> PathProblem:
    """The reference problem called ``name``.

    ``ring``: four nodes, a parallel link, node ``b`` failed, 5 ms budget.
    ``abilene``: the bundled Abilene network, from its best-connected node
    to the node the drill's first standby uses, one node failed, 50 ms budget.

    Raises
    ------
    ConfigError
        If ``name`` is not a reference problem.
    """
    if name == "ring":
        return PathProblem(
            _ring(), "s", ("t",), frozenset({"b"}), latency_budget_ms=5.0
        )
    if name == "abilene":
        from qnrecovery.data import sample_topology

        graph = sample_topology()
        nodes = sorted(graph.nodes, key=str)
        entry = max(nodes, key=graph.degree)
        others = [n for n in nodes if n != entry]
        return PathProblem(
            graph,
            entry,
            (others[3],),
            frozenset({others[1]}),
            latency_budget_ms=50.0,
        )
    raise ConfigError(
        f"No Grover reference problem is called {name!r}; choose from "
        f"{', '.join(REFERENCE_NAMES)}."
    )


def reference_circuit(name: str) -> QuantumCircuit:
    """One Grover iteration of reference problem ``name``, data loaded, measured."""
    plan = plan_search(reference_problem(name))
    assert plan is not None
    circuit = grover_circuit(plan.layout, 1, measure=True)
    circuit.name = f"grover_{name}"
    return circuit


def _share_gates(circuit: QuantumCircuit) -> QuantumCircuit:
    """The same circuit with one MCX object per size (each defined once in QASM)."""
    shared = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name.startswith("mcx"):
            operation = _mcx(operation.num_ctrl_qubits)
        shared.append(operation, instruction.qubits, instruction.clbits, copy=False)
    return shared


def write_reference_circuits(directory: Path) -> list[Path]:
    """Write every reference circuit to ``directory`` as OpenQASM 3.

    Returns
    -------
    list of Path
        The files written, ``grover_<name>.qasm``.
    """
    import qiskit.qasm3

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in REFERENCE_NAMES:
        path = directory / f"grover_{name}.qasm"
        text = qiskit.qasm3.dumps(_share_gates(reference_circuit(name)))
        path.write_text(text + "\n")
        written.append(path)
        logger.info("Wrote %s", path)
    return written
