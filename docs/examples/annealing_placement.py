"""Place standbys with simulated annealing and compare with the exact MILP.

A small random instance (6 services on 5 hosts in four failure domains);
the annealing placer's answer is checked against the MILP optimum.

Usage::

    python docs/examples/annealing_placement.py
"""

from __future__ import annotations

import numpy as np

from qnrecovery.bench.optimizers import random_placement
from qnrecovery.registry import backend


def main() -> None:
    problem = random_placement(6, 5, np.random.default_rng(0))
    slots = list(problem.slots())
    print(
        f"{len(problem.services)} services, {len(problem.hosts)} hosts, "
        f"{len(slots)} standby slots"
    )

    exact = backend("placer", "milp").place(problem)
    annealed = backend("placer", "annealing", random_state=0).place(problem)
    for name, solution in (("annealing", annealed), ("milp", exact)):
        wall_s = solution.info.get("wall_time_s", float("nan"))
        print(
            f"{name:>9}: feasible={solution.feasible} "
            f"objective={solution.objective:.2f} wall time {wall_s:.3f} s"
        )
    if annealed.feasible and exact.feasible:
        gap = (annealed.objective - exact.objective) / exact.objective
        print(f"annealing is {100 * gap:.2f} % above the optimum")
    for slot, host in sorted(annealed.assignment.items()):
        print(f"  {slot} -> {host}")


if __name__ == "__main__":
    main()
