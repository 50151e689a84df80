"""Find a recovery route with Grover search on a Topology Zoo network.

The clients enter the bundled Abilene network at one city; the standby sits
in another; one city on the way has failed. Grover search picks a working
route among the enumerated candidates, and Dijkstra gives the reference.

Usage::

    python docs/examples/grover_recovery_path.py
"""

from __future__ import annotations

from qnrecovery.data import sample_topology
from qnrecovery.interfaces import PathProblem
from qnrecovery.registry import backend


def main() -> None:
    graph = sample_topology()
    label = graph.graph.get("label") or graph.graph.get("Network")
    print(f"{label}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} links")

    reference = backend("path", "dijkstra")
    source, target = "0", "10"
    # Fail the first city on the fastest intact route, so the search must
    # find a detour.
    intact = reference.search(PathProblem(graph, source, (target,)))
    failed = intact.path[1]
    problem = PathProblem(
        graph, source, (target,), failed_nodes=frozenset({failed}), latency_budget_ms=40
    )
    print(f"route {source} -> {target} with node {failed} failed, budget 40 ms")

    for name in ("grover", "dijkstra"):
        solution = backend("path", name).search(problem)
        details = ", ".join(
            f"{key}={solution.info[key]:.3g}"
            for key in ("qubits", "oracle_calls", "candidates", "wall_time_s")
            if key in solution.info
        )
        print(
            f"{name:>9}: feasible={solution.feasible} path={list(solution.path)} "
            f"latency={solution.objective:.2f} ms  {details}"
        )


if __name__ == "__main__":
    main()
