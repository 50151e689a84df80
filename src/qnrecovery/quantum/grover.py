"""Grover search for a recovery route, with an oracle that evaluates the constraints.

:class:`GroverSearcher` is the ``grover`` path searcher. It

1. answers the trivial cases without a circuit (source failed, every target
   failed, the source is a target);
2. enumerates candidate routes on the intact network, blind to failures and
   budget (:mod:`qnrecovery.quantum.grover_candidates`), and keeps the
   fastest ``2**n`` that fit in ``max_qubits``;
3. builds the circuit of :mod:`qnrecovery.quantum.grover_oracle`: the raw
   failure data loaded into registers, a lookup of each candidate's latency,
   a check of its elements against the failures, a latency comparator, a
   phase on the conjunction, and uncomputation;
4. searches with the exponential schedule of Boyer, Brassard, Høyer and Tapp
   (BBHT: ``j`` Grover iterations with ``j`` uniform below ``m``, ``m``
   growing by 6/5 up to ``sqrt(N)``), which needs no count of the feasible
   candidates; the first round has ``j = 0``, so when every candidate is
   feasible the first sample is accepted without an oracle call;
5. selects by Dürr-Høyer minimum finding: once a feasible candidate ``y`` is
   found, the oracle also requires ``index < y`` (candidates are sorted by
   latency, so a lower index is never slower) and BBHT runs again, until a
   stage finds nothing better;
6. verifies every measured candidate classically (:func:`verify`) before it
   is accepted.

A stage gives up after ``stage_budget * sqrt(N)`` units (one unit per
round plus one per Grover iteration). When the first stage gives up, the
answer is "no feasible path"; the reason then quotes a classical Dijkstra
diagnosis (disconnected, over budget, or a route outside the candidates).

Examples
--------
>>> import networkx as nx
>>> from qnrecovery.interfaces import PathProblem
>>> from qnrecovery.quantum.grover import GroverSearcher
>>> graph = nx.Graph()
>>> graph.add_edge("a", "b", latency_ms=2.0)
>>> graph.add_edge("b", "c", latency_ms=2.0)
>>> graph.add_edge("a", "c", latency_ms=9.0)
>>> problem = PathProblem(graph, "a", ("c",), latency_budget_ms=20.0)
>>> GroverSearcher(random_state=0).search(problem).path
('a', 'b', 'c')
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qnrecovery.classical.paths import (
    DijkstraSearcher,
    _infeasible,
    _trivial,
    working_graph,
)
from qnrecovery.exceptions import ConfigError, ResourceLimitError
from qnrecovery.interfaces import PathProblem, PathSolution
from qnrecovery.quantum.grover_candidates import (
    CandidateSet,
    encode_latencies,
    enumerate_candidates,
    failed_element_ids,
)
from qnrecovery.quantum.grover_oracle import (
    GroverLayout,
    build_diffusion,
    build_oracle,
    grover_circuit,
)
from qnrecovery.quantum.targets import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    QuantumTarget,
    check_statevector_memory,
    format_bytes,
    parse_target,
    statevector_bytes,
)

__all__ = ["CircuitRunner", "GroverPlan", "GroverSearcher", "plan_search", "verify"]

logger = logging.getLogger(__name__)

#: Growth factor of BBHT's iteration bound.
BBHT_LAMBDA = 6 / 5


def verify(problem: PathProblem, path: tuple[Any, ...]) -> bool:
    """Whether ``path`` is a working route from the source to a target within budget.

    The classical check every measured candidate passes before it is
    accepted: no failed node or link, finite latency, at most the budget.
    """
    return problem.is_feasible(path) and math.isfinite(problem.path_latency(path))


@dataclass(frozen=True)
class GroverPlan:
    """The candidates of a problem and the circuit layout that encodes them.

    Attributes
    ----------
    candidates : CandidateSet
        The candidates the circuit indexes (after reduction).
    layout : GroverLayout
        Registers and data of the circuit.
    reduction : dict
        ``enumerated``, ``kept`` and ``limited_by`` (``None``,
        ``"max_index_qubits"`` or ``"max_qubits"``).
    failures_outside : int
        Failed nodes and links that no kept candidate uses.
    quantum_ms : float
        Milliseconds per unit of the fixed-point latency.
    """

    candidates: CandidateSet
    layout: GroverLayout
    reduction: dict[str, Any]
    failures_outside: int
    quantum_ms: float

    def marked(self, problem: PathProblem, below: int | None = None) -> list[int]:
        """Indices a correct oracle marks, by a classical check (for tests)."""
        encoding_ok = [
            value <= self.layout.latency_threshold
            for value in self.layout.latency_values
        ]
        return [
            i
            for i, candidate in enumerate(self.candidates.candidates)
            if encoding_ok[i]
            and verify(problem, candidate.path)
            and (below is None or i < below)
        ]


def _layout(
    problem: PathProblem, candidates: CandidateSet, latency_bits: int
) -> tuple[GroverLayout, int, float]:
    encoding = encode_latencies(
        [c.latency_ms for c in candidates.candidates],
        problem.latency_budget_ms,
        latency_bits,
    )
    failed, outside = failed_element_ids(problem, candidates)
    layout = GroverLayout(
        index_bits=max(1, math.ceil(math.log2(len(candidates)))),
        latency_values=encoding.values,
        latency_bits=latency_bits,
        latency_threshold=encoding.threshold,
        candidate_elements=candidates.candidate_element_ids(),
        element_bits=max(1, len(candidates.element_ids()).bit_length()),
        failed_ids=failed,
    )
    return layout, outside, encoding.quantum_ms


def plan_search(
    problem: PathProblem,
    *,
    per_target: int = 8,
    max_index_qubits: int = 3,
    latency_bits: int = 5,
    max_qubits: int = 20,
) -> GroverPlan | None:
    """Enumerate candidates and reduce them until the circuit fits ``max_qubits``.

    Returns
    -------
    GroverPlan or None
        ``None`` when the intact network has no route to any target.

    Raises
    ------
    ResourceLimitError
        If even one candidate needs more than ``max_qubits`` qubits (each
        failed element on a candidate costs a register).
    """
    enumerated = enumerate_candidates(problem, per_target)
    if not len(enumerated):
        return None
    count = min(len(enumerated), 2**max_index_qubits)
    limited_by = "max_index_qubits" if count < len(enumerated) else None
    while True:
        kept = enumerated.head(count)
        layout, outside, quantum = _layout(problem, kept, latency_bits)
        if layout.num_qubits <= max_qubits or count <= 1:
            break
        count = 2 ** (math.ceil(math.log2(count)) - 1)
        limited_by = "max_qubits"
    if layout.num_qubits > max_qubits:
        raise ResourceLimitError(
            f"Grover path search needs {layout.num_qubits} qubits even for "
            f"{len(kept)} candidates ({len(layout.failed_ids)} failed elements on "
            f"them cost {layout.element_bits + 1} qubits each); a statevector of "
            f"that size takes {format_bytes(statevector_bytes(layout.num_qubits))}, "
            f"more than `max_qubits`={max_qubits} allows. Raise max_qubits or "
            "use the dijkstra searcher."
        )
    reduction = {
        "enumerated": len(enumerated),
        "kept": len(kept),
        "limited_by": limited_by,
    }
    return GroverPlan(kept, layout, reduction, outside, quantum)


class CircuitRunner:
    """Runs the Grover circuits of one layout on a target.

    Parameters
    ----------
    target : QuantumTarget
        ``statevector`` gives exact probabilities (Aer's statevector method,
        cached per threshold and iteration count) that :meth:`counts` samples
        with the caller's generator; ``aer`` and ``fake:<device>`` sample with
        Aer's ``SamplerV2`` (transpiled to the device for ``fake``).
    layout : GroverLayout
        The circuit's registers and data.
    """

    def __init__(self, target: QuantumTarget, layout: GroverLayout) -> None:
        self.target = target
        self.layout = layout
        self.iterations: dict[int | None, Any] = {}
        self.exact: dict[tuple[int | None, int], np.ndarray] = {}
        self.backend: Any = None
        self.manager: Any = None
        self.depth: int | None = None

    def iteration(self, below: int | None) -> Any:
        """One oracle (threshold ``below``) plus diffusion, built once."""
        if below not in self.iterations:
            circuit = build_oracle(self.layout, below)
            circuit.compose(build_diffusion(self.layout), inplace=True)
            self.iterations[below] = circuit
            if self.depth is None:
                self.depth = circuit.depth()
        return self.iterations[below]

    def probabilities(self, below: int | None, iterations: int) -> np.ndarray:
        """Exact probabilities of each index (statevector target), cached."""
        key = (below, iterations)
        if key not in self.exact:
            from qiskit_aer import AerSimulator
            from qiskit_aer.library import SaveProbabilities

            if self.backend is None:
                self.backend = AerSimulator(
                    method="statevector", fusion_enable=False, max_parallel_threads=1
                )
            circuit = grover_circuit(
                self.layout, iterations, iteration=self.iteration(below)
            )
            index = circuit.qregs[0]
            circuit.append(SaveProbabilities(len(index)), index)
            result = self.backend.run(circuit).result()
            probabilities = np.asarray(result.data()["probabilities"], dtype=float)
            self.exact[key] = probabilities / probabilities.sum()
        return self.exact[key]

    def counts(
        self, below: int | None, iterations: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Counts of each index over ``shots`` measurements."""
        shots = self.target.shots
        if self.target.is_exact:
            return rng.multinomial(shots, self.probabilities(below, iterations))
        return self._sampled(below, iterations, int(rng.integers(2**31 - 1)))

    def _sampled(self, below: int | None, iterations: int, seed: int) -> np.ndarray:
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_aer.primitives import SamplerV2

        if self.backend is None:
            self.backend = self.target.backend()
            # Multi-controlled gates on few qubits: fusion and threads only cost.
            self.backend.set_options(fusion_enable=False, max_parallel_threads=1)
            if not self.target.is_noisy:
                self.backend.set_options(method="statevector")
        circuit = grover_circuit(
            self.layout, iterations, measure=True, iteration=self.iteration(below)
        )
        if self.target.is_noisy:
            if self.manager is None:
                self.manager = generate_preset_pass_manager(
                    optimization_level=self.target.optimization_level,
                    backend=self.backend,
                    seed_transpiler=seed,
                )
            circuit = self.manager.run(circuit)
        sampler = SamplerV2.from_backend(
            self.backend, default_shots=self.target.shots, seed=seed
        )
        found = sampler.run([circuit]).result()[0].data.c.get_counts()
        counts = np.zeros(self.layout.size, dtype=int)
        for bits, count in found.items():
            counts[int(bits, 2)] += count
        return counts


@dataclass
class _Trace:
    rounds: list[dict[str, Any]] = field(default_factory=list)
    iterations: int = 0

    def add(self, stage: int, below: int | None, j: int, index: int, ok: bool) -> None:
        self.iterations += j
        round_ = {"stage": stage, "below": below, "iterations": j, "index": index}
        self.rounds.append(round_ | {"accepted": ok})


def _check_int(owner: str, name: str, value: Any, low: int, high: int) -> None:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or not low <= int(value) <= high
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be an integer in [{low}, {high}]; "
            f"got {value!r}."
        )


class GroverSearcher:
    """Recovery route by Grover search over candidate routes (the ``grover`` backend).

    Parameters
    ----------
    target : str, default="statevector"
        Where circuits run: ``statevector`` (exact probabilities from Aer's
        statevector method, sampled with the searcher's generator), ``aer``
        (Aer sampler with shots) or ``fake:<device>`` (Aer with a fake IBM
        device's noise; circuits are transpiled to the device).
    shots : int, default=1
        Measurements per round. BBHT's analysis reads one measurement per
        round, hence the default; with more, the round's answer is the most
        frequent index (which fails when most candidates are feasible, since
        amplification then moves probability away from them).
    random_state : int or None, default=None
        Seed of the schedule and of the sampling.
    memory_limit_bytes : int, default=4 GiB
        Largest statevector allowed.
    per_target : int, default=8
        Candidate routes enumerated per target.
    max_index_qubits : int, default=3
        Width limit of the index register (at most ``2**n`` candidates).
    latency_bits : int, default=5
        Width of the fixed-point latency register.
    max_qubits : int, default=20
        The candidate set is halved until the circuit fits this many qubits.
    stage_budget : float, default=8.0
        A BBHT stage gives up after ``stage_budget * sqrt(N)`` units.
    optimization_level : int, default=1
        Transpiler level for ``fake:<device>``.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``nodes_removed``, ``links_removed``,
    ``explored`` (candidates verified classically), ``candidates``,
    ``reduction``, ``qubits``, ``index_qubits``, ``failure_registers``,
    ``depth`` (one oracle plus diffusion, multi-controlled gates counted as
    one), ``rounds``, ``grover_iterations`` (oracle calls of one shot),
    ``oracle_calls`` (times ``shots``), ``stages``, ``selection``, ``trace``
    and ``target``; ``reason`` when infeasible.
    """

    def __init__(
        self,
        *,
        target: str = "statevector",
        shots: int = 1,
        random_state: int | None = None,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
        per_target: int = 8,
        max_index_qubits: int = 3,
        latency_bits: int = 5,
        max_qubits: int = 20,
        stage_budget: float = 8.0,
        optimization_level: int = 1,
    ) -> None:
        self.target = target
        self.shots = shots
        self.random_state = random_state
        self.memory_limit_bytes = memory_limit_bytes
        self.per_target = per_target
        self.max_index_qubits = max_index_qubits
        self.latency_bits = latency_bits
        self.max_qubits = max_qubits
        self.stage_budget = stage_budget
        self.optimization_level = optimization_level

    _PARAMS = (
        "target",
        "shots",
        "random_state",
        "memory_limit_bytes",
        "per_target",
        "max_index_qubits",
        "latency_bits",
        "max_qubits",
        "stage_budget",
        "optimization_level",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's options."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> GroverSearcher:
        """Set options; unknown names are refused."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ConfigError(
                    f"`GroverSearcher` has no option {name!r}; options are "
                    f"{', '.join(self._PARAMS)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({options})"

    def _check(self) -> QuantumTarget:
        owner = type(self).__name__
        _check_int(owner, "per_target", self.per_target, 1, 10_000)
        _check_int(owner, "max_index_qubits", self.max_index_qubits, 1, 12)
        _check_int(owner, "latency_bits", self.latency_bits, 2, 16)
        _check_int(owner, "max_qubits", self.max_qubits, 2, 64)
        _check_int(owner, "memory_limit_bytes", self.memory_limit_bytes, 1, 2**62)
        if not (
            isinstance(self.stage_budget, numbers.Real)
            and math.isfinite(self.stage_budget)
            and self.stage_budget > 0
        ):
            raise ConfigError(
                f"`stage_budget` of `{owner}` must be a positive number; "
                f"got {self.stage_budget!r}."
            )
        if self.random_state is not None:
            _check_int(owner, "random_state", self.random_state, 0, 2**63 - 1)
        return parse_target(
            self.target,
            shots=self.shots,
            seed=self.random_state,
            optimization_level=self.optimization_level,
        )

    def search(self, problem: PathProblem) -> PathSolution:
        """Return the fastest feasible route the search finds.

        Raises
        ------
        ConfigError
            If the problem is malformed (unknown source or target, budget not
            a positive number) or an option is out of range.
        ResourceLimitError
            If the circuit does not fit ``max_qubits`` or ``memory_limit_bytes``.
        """
        start = time.perf_counter()
        target = self._check()
        problem.validate()
        _, nodes_removed, links_removed = working_graph(problem)
        info: dict[str, Any] = {
            "nodes_removed": nodes_removed,
            "links_removed": links_removed,
            "explored": 0,
            "target": target.name,
            "selection": "durr-hoyer",
        }

        solution = _trivial(problem, info)
        if solution is None:
            solution = self._search(problem, target, info)
        info["wall_time_s"] = time.perf_counter() - start
        return solution

    def _search(
        self, problem: PathProblem, target: QuantumTarget, info: dict[str, Any]
    ) -> PathSolution:
        plan = plan_search(
            problem,
            per_target=self.per_target,
            max_index_qubits=self.max_index_qubits,
            latency_bits=self.latency_bits,
            max_qubits=self.max_qubits,
        )
        if plan is None:
            return _infeasible(
                "disconnected: no route from the source to any target, even in "
                "the network without failures",
                info,
            )
        layout = plan.layout
        check_statevector_memory(
            layout.num_qubits,
            limit_bytes=self.memory_limit_bytes,
            what=f"Grover path search over {len(plan.candidates)} candidates",
        )
        info |= {
            "candidates": len(plan.candidates),
            "reduction": plan.reduction,
            "qubits": layout.num_qubits,
            "index_qubits": layout.index_bits,
            "failure_registers": len(layout.failed_ids),
            "failures_outside_candidates": plan.failures_outside,
            "latency_quantum_ms": plan.quantum_ms,
            "shots": target.shots,
        }

        runner = CircuitRunner(target, layout)
        rng = np.random.default_rng(self.random_state)
        trace = _Trace()
        best = self._minimum(problem, plan, runner, rng, trace)
        info |= {
            "rounds": len(trace.rounds),
            "explored": len(trace.rounds),
            "grover_iterations": trace.iterations,
            "oracle_calls": trace.iterations * target.shots,
            "stages": 1 + max((r["stage"] for r in trace.rounds), default=0),
            "depth": runner.depth,
            "trace": trace.rounds,
        }
        if best is None:
            return self._nothing_found(problem, plan, info)
        path = plan.candidates.candidates[best].path
        latency = problem.path_latency(path)
        logger.debug("Grover route %s (%.3g ms) after %s", path, latency, trace)
        return PathSolution(
            feasible=True, objective=latency, info=info, path=path, target=path[-1]
        )

    def _minimum(
        self,
        problem: PathProblem,
        plan: GroverPlan,
        runner: CircuitRunner,
        rng: np.random.Generator,
        trace: _Trace,
    ) -> int | None:
        """Dürr-Høyer: BBHT stages below the best index found so far."""
        best: int | None = None
        stage = 0
        while best != 0:
            found = self._bbht(problem, plan, runner, rng, trace, stage, best)
            if found is None:
                break
            best = found
            stage += 1
        return best

    def _bbht(
        self,
        problem: PathProblem,
        plan: GroverPlan,
        runner: CircuitRunner,
        rng: np.random.Generator,
        trace: _Trace,
        stage: int,
        below: int | None,
    ) -> int | None:
        """One BBHT search for a verified feasible index below ``below``."""
        size = plan.layout.size
        budget = math.ceil(self.stage_budget * math.sqrt(size))
        bound, spent = 1.0, 0
        while spent < budget:
            j = int(rng.integers(0, math.ceil(bound)))
            counts = runner.counts(below, j, rng)
            index = int(np.argmax(counts))
            ok = self._verify(problem, plan, index, below)
            trace.add(stage, below, j, index, ok)
            if ok:
                return index
            spent += j + 1
            bound = min(BBHT_LAMBDA * bound, math.sqrt(size))
        return None

    @staticmethod
    def _verify(
        problem: PathProblem, plan: GroverPlan, index: int, below: int | None
    ) -> bool:
        """Classical check of a measured index."""
        if index >= len(plan.candidates) or (below is not None and index >= below):
            return False
        return verify(problem, plan.candidates.candidates[index].path)

    def _nothing_found(
        self, problem: PathProblem, plan: GroverPlan, info: dict[str, Any]
    ) -> PathSolution:
        """The "no feasible path" answer, with a classical diagnosis of why."""
        summary = (
            f"no feasible path found by Grover search over {len(plan.candidates)} "
            f"candidate routes ({info['rounds']} rounds, "
            f"{info['grover_iterations']} iterations)"
        )
        reference = DijkstraSearcher().search(problem)
        if not reference.feasible:
            cause = reference.info["reason"]
        elif plan.marked(problem):
            cause = "feasible candidates exist; the search missed them by chance"
        elif any(verify(problem, c.path) for c in plan.candidates.candidates):
            cause = (
                "the only feasible candidates lie within one latency unit "
                f"({plan.quantum_ms:.3g} ms) of the budget, which the fixed-point "
                "comparator rejects; raise latency_bits"
            )
        else:
            cause = (
                f"a feasible route outside the candidates exists "
                f"({reference.objective:g} ms); raise per_target or max_index_qubits"
            )
        info["diagnosis"] = cause
        return _infeasible(f"{summary}; {cause}", info)
