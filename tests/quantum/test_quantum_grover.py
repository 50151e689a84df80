"""Grover path search: the oracle, the schedule, selection and bad input."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from qnrecovery.classical.paths import DijkstraSearcher
from qnrecovery.exceptions import ConfigError, ResourceLimitError
from qnrecovery.interfaces import PathProblem, link_key
from qnrecovery.quantum.grover import GroverSearcher, plan_search, verify
from qnrecovery.quantum.grover_candidates import encode_latencies
from qnrecovery.quantum.grover_oracle import (
    _compute,
    build_oracle,
    build_preparation,
    grover_circuit,
    less_than_patterns,
    optimal_iterations,
    success_probability,
)
from qnrecovery.quantum.targets import parse_target

pytest.importorskip("qiskit_aer")


def ring() -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for u, v, latency in [
        ("s", "a", 1.0),
        ("a", "t", 1.0),
        ("s", "b", 2.0),
        ("b", "t", 2.0),
        ("s", "t", 10.0),
    ]:
        graph.add_edge(u, v, latency_ms=latency)
    graph.add_edge("s", "a", latency_ms=0.5)
    return graph


def fan(width: int = 3) -> nx.Graph:
    """``s`` to ``t`` directly and through ``width`` middle nodes."""
    graph = nx.Graph()
    graph.add_edge("s", "t", latency_ms=20.0)
    for k in range(width):
        graph.add_edge("s", f"m{k}", latency_ms=1.0 + k)
        graph.add_edge(f"m{k}", "t", latency_ms=1.0 + k)
    return graph


@pytest.fixture(scope="module")
def abilene():
    from qnrecovery.data import sample_topology

    return sample_topology()


def run_statevector(circuit) -> np.ndarray:
    from qiskit_aer import AerSimulator

    circuit = circuit.copy()
    circuit.save_statevector()
    simulator = AerSimulator(method="statevector", max_parallel_threads=1)
    return np.asarray(simulator.run(circuit).result().get_statevector())


def marked_by_oracle(layout, below=None) -> list[int]:
    """Simulate preparation + oracle; read each index's phase."""
    preparation = build_preparation(layout)
    before = run_statevector(preparation)
    circuit = preparation.copy()
    circuit.compose(build_oracle(layout, below), inplace=True)
    after = run_statevector(circuit)

    support = np.abs(before) > 1e-9
    ratio = after[support] / before[support]
    assert np.allclose(np.abs(ratio), 1.0)  # every other register restored
    assert np.allclose(np.abs(after[~support]), 0.0)
    indices = np.nonzero(support)[0] % layout.size
    marked = sorted(int(i) for i, r in zip(indices, ratio, strict=True) if r.real < 0)
    assert len(indices) == layout.size
    return marked


def classical_marks(problem, plan, below=None) -> list[int]:
    return [
        i
        for i, c in enumerate(plan.candidates.candidates)
        if verify(problem, c.path) and (below is None or i < below)
    ]


# ------------------------------------------------------------------ the oracle

ORACLE_CASES = {
    "ring-failed-node": dict(failed_nodes=frozenset({"b"}), latency_budget_ms=5.0),
    "ring-failed-link": dict(failed_links=frozenset({link_key("a", "s")})),
    "ring-budget": dict(latency_budget_ms=3.0),
    "ring-both": dict(
        failed_nodes=frozenset({"a"}), failed_links=frozenset({link_key("s", "t")})
    ),
    "ring-target-failed-link": dict(
        failed_links=frozenset({link_key("a", "t")}), latency_budget_ms=8.0
    ),
}


@pytest.mark.parametrize("case", sorted(ORACLE_CASES))
def test_oracle_marks_exactly_the_feasible_candidates(case):
    problem = PathProblem(ring(), "s", ("t",), **ORACLE_CASES[case])
    plan = plan_search(problem)
    assert marked_by_oracle(plan.layout) == classical_marks(problem, plan)


def test_oracle_marks_feasible_on_abilene(abilene):
    nodes = sorted(abilene.nodes, key=str)
    problem = PathProblem(
        abilene,
        nodes[0],
        (nodes[5], nodes[8]),
        failed_nodes=frozenset({nodes[3]}),
        latency_budget_ms=25.0,
    )
    plan = plan_search(problem, per_target=4)
    expected = classical_marks(problem, plan)
    assert 0 < len(expected) < len(plan.candidates)
    assert marked_by_oracle(plan.layout) == expected


@pytest.mark.parametrize("below", [1, 2, 3])
def test_oracle_threshold_marks_only_lower_indices(below):
    problem = PathProblem(fan(3), "s", ("t",))
    plan = plan_search(problem)
    assert marked_by_oracle(plan.layout, below) == list(range(below))


def test_lookup_and_flags_on_every_basis_state():
    problem = PathProblem(
        ring(), "s", ("t",), failed_nodes=frozenset({"b"}), latency_budget_ms=5.0
    )
    plan = plan_search(problem)
    layout = plan.layout
    for index in range(layout.size):
        circuit = build_preparation(layout)
        circuit.h(circuit.qregs[0])  # undo the superposition: a basis state
        for k in range(layout.index_bits):
            if (index >> k) & 1:
                circuit.x(circuit.qregs[0][k])
        circuit.compose(_compute(layout), inplace=True)
        state = run_statevector(circuit)
        basis = int(np.argmax(np.abs(state)))
        assert abs(state[basis]) == pytest.approx(1.0)

        offset = layout.index_bits + len(layout.failed_ids) * layout.element_bits
        hit = (basis >> offset) & 1
        lat = (basis >> (offset + 1)) & (2**layout.latency_bits - 1)
        ok = (basis >> (offset + 1 + layout.latency_bits)) & 1
        assert lat == layout.padded_latency(index)
        assert ok == int(lat <= layout.latency_threshold)
        uses_b = index < len(plan.candidates) and (
            "b" in plan.candidates.candidates[index].path
        )
        assert hit == int(uses_b)


def test_less_than_patterns_cover_exactly():
    for bits in (1, 2, 3, 4):
        for bound in range(2**bits + 2):
            patterns = less_than_patterns(bound, bits)
            for x in range(2**bits):
                hits = sum(
                    all((x >> k) & 1 == v for k, v in p.items()) for p in patterns
                )
                assert hits == int(x < bound)


def test_fixed_point_never_accepts_over_budget():
    rng = np.random.default_rng(0)
    for _ in range(200):
        budget = float(rng.uniform(0.1, 100.0))
        latencies = rng.uniform(0.0, 2 * budget, size=8)
        bits = int(rng.integers(2, 7))
        encoding = encode_latencies(latencies, budget, bits)
        for latency, value in zip(latencies, encoding.values, strict=True):
            if value <= encoding.threshold:
                assert latency <= budget
            if latency <= budget - encoding.quantum_ms:
                assert value <= encoding.threshold
    infinite = encode_latencies([0.0, 3.0, 7.5], math.inf, 3)
    assert all(v <= infinite.threshold for v in infinite.values)


# ----------------------------------------------------------------- iterations


@pytest.mark.parametrize("budget", [2.0, 5.0, 50.0])
def test_simulated_success_matches_formula(budget):
    problem = PathProblem(fan(3), "s", ("t",), latency_budget_ms=budget)
    plan = plan_search(problem)
    marked = classical_marks(problem, plan)
    size = plan.layout.size
    k = optimal_iterations(len(marked), size)
    circuit = grover_circuit(plan.layout, k)
    state = run_statevector(circuit)
    probabilities = np.abs(state) ** 2
    index = np.arange(len(state)) % size
    simulated = probabilities[np.isin(index, marked)].sum()
    assert simulated == pytest.approx(success_probability(len(marked), size, k))


def test_optimal_iterations_formula():
    assert optimal_iterations(1, 4) == 1
    assert optimal_iterations(1, 64) == math.floor(math.pi / (4 * math.asin(1 / 8)))
    assert optimal_iterations(0, 8) == 0
    assert optimal_iterations(8, 8) == 0


# --------------------------------------------------------------- the searcher


def test_no_feasible_candidate_ends_with_no_path():
    problem = PathProblem(fan(3), "s", ("t",), latency_budget_ms=1.0)
    solution = GroverSearcher(random_state=0).search(problem)
    assert not solution.feasible
    assert math.isinf(solution.objective)
    assert solution.path == ()
    assert "no feasible path" in solution.info["reason"]
    assert "budget" in solution.info["reason"]
    assert solution.info["rounds"] >= 2
    assert solution.info["explored"] == solution.info["rounds"]
    units = solution.info["rounds"] + solution.info["grover_iterations"]
    assert units <= math.ceil(8.0 * math.sqrt(4)) + 2


def test_all_candidates_feasible_needs_no_iteration():
    problem = PathProblem(fan(3), "s", ("t",))
    solution = GroverSearcher(random_state=3, max_index_qubits=2).search(problem)
    first = solution.info["trace"][0]
    assert solution.info["candidates"] == 4
    assert first["iterations"] == 0 and first["accepted"]
    assert solution.feasible
    assert solution.path == ("s", "m0", "t")


@pytest.mark.parametrize("target", ["statevector", "aer"])
def test_seeded_runs_repeat(abilene, target):
    nodes = sorted(abilene.nodes, key=str)
    problem = PathProblem(
        abilene, nodes[1], (nodes[7],), failed_nodes=frozenset({nodes[4]})
    )
    first = GroverSearcher(target=target, random_state=11).search(problem)
    second = GroverSearcher(target=target, random_state=11).search(problem)
    assert first.path == second.path
    assert first.info["trace"] == second.info["trace"]


def test_agrees_with_classical_check_and_dijkstra(abilene):
    nodes = sorted(abilene.nodes, key=str)
    rng = np.random.default_rng(5)
    dijkstra = DijkstraSearcher()
    for trial in range(6):
        source, target, failed = rng.choice(len(nodes), size=3, replace=False)
        problem = PathProblem(
            abilene,
            nodes[source],
            (nodes[target],),
            failed_nodes=frozenset({nodes[failed]}),
            latency_budget_ms=60.0,
        )
        solution = GroverSearcher(random_state=trial).search(problem)
        reference = dijkstra.search(problem)
        plan = plan_search(problem)
        feasible = classical_marks(problem, plan)
        assert solution.feasible == bool(feasible)
        if feasible:
            assert verify(problem, solution.path)
            assert solution.objective == pytest.approx(
                problem.path_latency(solution.path)
            )
            best = plan.candidates.candidates[feasible[0]].latency_ms
            assert solution.objective == pytest.approx(best)
            if reference.path in [c.path for c in plan.candidates.candidates]:
                assert solution.objective == pytest.approx(reference.objective)


def test_multi_target_picks_fastest(abilene):
    nodes = sorted(abilene.nodes, key=str)
    problem = PathProblem(abilene, nodes[0], (nodes[4], nodes[9]))
    solution = GroverSearcher(random_state=2).search(problem)
    reference = DijkstraSearcher().search(problem)
    assert solution.objective == pytest.approx(reference.objective)
    assert solution.target == reference.target


def test_searcher_accepts_drill_seeding():
    searcher = GroverSearcher()
    assert "random_state" in searcher.get_params()
    searcher.set_params(random_state=4)
    assert searcher.random_state == 4
    with pytest.raises(ConfigError, match="no option 'bogus'"):
        searcher.set_params(bogus=1)


# ---------------------------------------------------------------- bad input


def test_source_failed():
    problem = PathProblem(ring(), "s", ("t",), failed_nodes=frozenset({"s"}))
    solution = GroverSearcher().search(problem)
    assert not solution.feasible
    assert "source" in solution.info["reason"]


def test_every_target_failed():
    problem = PathProblem(ring(), "s", ("a", "t"), failed_nodes=frozenset({"a", "t"}))
    solution = GroverSearcher().search(problem)
    assert not solution.feasible
    assert "every target" in solution.info["reason"]


def test_disconnected_graph():
    graph = nx.Graph()
    graph.add_edge("s", "a", latency_ms=1.0)
    graph.add_edge("t", "b", latency_ms=1.0)
    solution = GroverSearcher().search(PathProblem(graph, "s", ("t",)))
    assert not solution.feasible
    assert "disconnected" in solution.info["reason"]


def test_disconnected_by_failures():
    problem = PathProblem(
        ring(),
        "s",
        ("t",),
        failed_nodes=frozenset({"a", "b"}),
        failed_links=frozenset({link_key("s", "t")}),
    )
    solution = GroverSearcher(random_state=0).search(problem)
    assert not solution.feasible
    assert "disconnected" in solution.info["reason"]
    assert solution.info["rounds"] > 0


def test_single_node_graph():
    graph = nx.Graph()
    graph.add_node("s")
    solution = GroverSearcher().search(PathProblem(graph, "s", ("s",)))
    assert solution.feasible and solution.path == ("s",) and solution.objective == 0
    with pytest.raises(ConfigError, match="not in the graph"):
        GroverSearcher().search(PathProblem(graph, "s", ("t",)))


def test_budget_below_every_path():
    problem = PathProblem(ring(), "s", ("t",), latency_budget_ms=0.5)
    solution = GroverSearcher(random_state=1).search(problem)
    assert not solution.feasible
    assert "over budget" in solution.info["reason"]


def test_duplicate_edges_use_the_fastest_and_fail_together():
    problem = PathProblem(ring(), "s", ("t",), latency_budget_ms=5.0)
    solution = GroverSearcher(random_state=0).search(problem)
    assert solution.path == ("s", "a", "t")
    assert solution.objective == pytest.approx(1.5)

    failed = PathProblem(
        ring(), "s", ("t",), failed_links=frozenset({link_key("s", "a")})
    )
    solution = GroverSearcher(random_state=0).search(failed)
    assert solution.path == ("s", "b", "t")


@pytest.mark.parametrize(
    ("source", "targets"), [("nowhere", ("t",)), ("s", ("t", "nowhere"))]
)
def test_unknown_node_names_refused(source, targets):
    with pytest.raises(ConfigError, match="not in the graph"):
        GroverSearcher().search(PathProblem(ring(), source, targets))


def test_unknown_failed_node_is_ignored():
    problem = PathProblem(ring(), "s", ("t",), failed_nodes=frozenset({"zz"}))
    solution = GroverSearcher(random_state=0).search(problem)
    assert solution.path == ("s", "a", "t")
    assert solution.info["nodes_removed"] == 0


def test_nan_budget_refused():
    problem = PathProblem(ring(), "s", ("t",), latency_budget_ms=math.nan)
    with pytest.raises(ConfigError, match="latency_budget_ms"):
        GroverSearcher().search(problem)


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("shots", -3, "shots"),
        ("per_target", 0, "per_target"),
        ("latency_bits", 1, "latency_bits"),
        ("stage_budget", math.nan, "stage_budget"),
        ("target", "bogus", "Unknown quantum target"),
    ],
)
def test_bad_options_refused(option, value, match):
    with pytest.raises(ConfigError, match=match):
        GroverSearcher(**{option: value}).search(PathProblem(ring(), "s", ("t",)))


# ------------------------------------------------------------ size and memory


def test_memory_limit_refuses_with_qubits_and_bytes():
    problem = PathProblem(ring(), "s", ("t",))
    with pytest.raises(ResourceLimitError, match=r"needs \d+ qubits.*KiB"):
        GroverSearcher(memory_limit_bytes=1024).search(problem)


def test_large_problem_reduced_to_fit(abilene):
    nodes = sorted(abilene.nodes, key=str)
    problem = PathProblem(
        abilene, nodes[0], (nodes[6], nodes[9]), failed_nodes=frozenset({nodes[1]})
    )
    solution = GroverSearcher(random_state=0, max_qubits=14).search(problem)
    reduction = solution.info["reduction"]
    assert solution.info["qubits"] <= 14
    assert reduction["limited_by"] == "max_qubits"
    assert reduction["kept"] < 8 < reduction["enumerated"]
    assert solution.info["candidates"] == reduction["kept"]
    if solution.feasible:
        assert verify(problem, solution.path)


def test_qubit_limit_refuses_when_no_reduction_fits():
    problem = PathProblem(ring(), "s", ("t",), failed_nodes=frozenset({"b"}))
    with pytest.raises(ResourceLimitError, match=r"needs \d+ qubits.*max_qubits"):
        GroverSearcher(max_qubits=5).search(problem)


# ------------------------------------------------------------------- targets


def test_aer_target_finds_the_route():
    problem = PathProblem(ring(), "s", ("t",), failed_nodes=frozenset({"b"}))
    solution = GroverSearcher(target="aer", shots=16, random_state=0).search(problem)
    assert solution.path == ("s", "a", "t")
    assert solution.info["target"] == "aer"
    assert solution.info["oracle_calls"] == 16 * solution.info["grover_iterations"]


@pytest.mark.slow
def test_fake_device_target_runs_transpiled():
    problem = PathProblem(fan(1), "s", ("t",), latency_budget_ms=5.0)
    searcher = GroverSearcher(
        target="fake:manila", random_state=0, latency_bits=2, shots=64
    )
    solution = searcher.search(problem)
    assert solution.info["qubits"] <= 5
    assert solution.info["target"] == "fake:manila"
    if solution.feasible:
        assert verify(problem, solution.path)


def test_exact_target_parses():
    assert parse_target("statevector").is_exact
