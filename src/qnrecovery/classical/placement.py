"""Classical standby placers: greedy with local search, and an exact MILP.

Both take a :class:`~qnrecovery.interfaces.PlacementProblem` and return a
:class:`~qnrecovery.interfaces.PlacementSolution` whose ``objective`` is
``problem.objective(assignment)`` and whose ``violations`` are
``problem.violations(assignment)`` (empty whenever ``feasible``). Neither
raises on an infeasible problem: the solution says ``feasible=False``, its
``assignment`` is empty and ``info`` says why.

Examples
--------
>>> from qnrecovery.classical.placement import GreedyPlacer
>>> from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
>>> problem = PlacementProblem(
...     services=(ServiceSpec("db", "critical", 2.0, "h1"),),
...     hosts=(HostSpec("h1", 4.0, "rack-a"), HostSpec("h2", 4.0, "rack-b")),
... )
>>> GreedyPlacer().place(problem).assignment
{'db/hot': 'h2'}
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PlacementProblem, PlacementSolution, StandbySlot
from qnrecovery.orchestrator.tiers import TIERS

__all__ = ["GreedyPlacer", "MILPPlacer"]

logger = logging.getLogger(__name__)

_TOLERANCE = 1e-9


def _finish(
    problem: PlacementProblem,
    assignment: dict[str, str],
    info: dict[str, Any],
    start: float,
) -> PlacementSolution:
    """Judge ``assignment`` with the problem's own checks and build the solution."""
    violations = problem.violations(assignment)
    info["wall_time_s"] = time.perf_counter() - start
    if violations:
        info.setdefault("reason", "; ".join(violations))
        info["partial_assignment"] = dict(assignment)
        logger.info("No feasible placement: %s", info["reason"])
        return PlacementSolution(
            feasible=False, objective=math.inf, info=info, violations=violations
        )
    return PlacementSolution(
        feasible=True,
        objective=problem.objective(assignment),
        info=info,
        assignment=dict(assignment),
    )


class _Ledger:
    """Remaining capacity per host and the domains each service already uses."""

    def __init__(self, problem: PlacementProblem) -> None:
        self.problem = problem
        capacity = {h.name: h.capacity for h in problem.hosts}
        load = problem.base_load()
        self.free = {name: capacity[name] - load[name] for name in capacity}
        self.domain = {h.name: h.domain for h in problem.hosts}
        self.used: dict[str, dict[str, int]] = {}

    def fits(self, slot: StandbySlot, host: str) -> bool:
        taken = self.used.get(slot.service, {})
        return (
            self.free[host] + _TOLERANCE >= self.problem.reserved(slot)
            and taken.get(self.domain[host], 0) == 0
        )

    def add(self, slot: StandbySlot, host: str) -> None:
        self.free[host] -= self.problem.reserved(slot)
        taken = self.used.setdefault(slot.service, {})
        taken[self.domain[host]] = taken.get(self.domain[host], 0) + 1

    def remove(self, slot: StandbySlot, host: str) -> None:
        self.free[host] += self.problem.reserved(slot)
        self.used[slot.service][self.domain[host]] -= 1


class GreedyPlacer:
    """Cheapest host slot by slot, then single-slot moves that lower the cost.

    Slots are placed in order of decreasing tier weight, then decreasing
    demand; each goes to the cheapest allowed host (outside its primary's
    domain, in a domain no other standby of its service uses, with capacity
    left). A local search then moves one slot at a time to a cheaper host
    while the placement stays feasible, until no move helps or ``max_rounds``
    passes have run. Greedy may miss a feasible placement that exists; use
    :class:`MILPPlacer` for a guarantee.

    Parameters
    ----------
    max_rounds : int, default=100
        Most passes of the local search over all slots.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``variables`` (slot-host pairs considered),
    ``constraints`` (0: greedy keeps them implicitly), ``status``, ``moves``
    (local-search moves made) and ``reason`` when infeasible.
    """

    def __init__(self, *, max_rounds: int = 100) -> None:
        self.max_rounds = max_rounds

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_rounds={self.max_rounds!r})"

    def place(self, problem: PlacementProblem) -> PlacementSolution:
        """Place every standby of ``problem``.

        Raises
        ------
        ConfigError
            If the problem is malformed or ``max_rounds`` is not a
            non-negative integer.
        """
        start = time.perf_counter()
        value = self.max_rounds
        if (
            not isinstance(value, numbers.Integral)
            or isinstance(value, bool)
            or value < 0
        ):
            raise ConfigError(
                "`max_rounds` of `GreedyPlacer` must be a non-negative integer; "
                f"got {value!r}."
            )
        problem.validate()
        slots = sorted(
            problem.slots(),
            key=lambda s: (
                -TIERS[problem.service(s.service).tier].weight,
                -problem.service(s.service).demand,
            ),
        )
        allowed = {s.key: problem.allowed_hosts(s) for s in slots}
        info: dict[str, Any] = {
            "variables": sum(len(h) for h in allowed.values()),
            "constraints": 0,
            "moves": 0,
        }

        ledger = _Ledger(problem)
        assignment: dict[str, str] = {}
        for slot in slots:
            options = [h for h in allowed[slot.key] if ledger.fits(slot, h)]
            if not options:
                info["status"] = "infeasible"
                info["reason"] = (
                    f"greedy found no allowed host with capacity and a free failure "
                    f"domain for {slot.key}"
                )
                return _finish(problem, assignment, info, start)
            host = min(options, key=lambda h: problem.slot_cost(slot, h))
            ledger.add(slot, host)
            assignment[slot.key] = host

        info["moves"] = self._improve(problem, slots, allowed, ledger, assignment)
        info["status"] = "local optimum"
        return _finish(problem, assignment, info, start)

    def _improve(
        self,
        problem: PlacementProblem,
        slots: list[StandbySlot],
        allowed: dict[str, list[str]],
        ledger: _Ledger,
        assignment: dict[str, str],
    ) -> int:
        """Move single slots to cheaper feasible hosts; return the moves made."""
        moves = 0
        for _ in range(self.max_rounds):
            improved = False
            for slot in slots:
                current = assignment[slot.key]
                ledger.remove(slot, current)
                best, best_cost = current, problem.slot_cost(slot, current)
                for host in allowed[slot.key]:
                    cost = problem.slot_cost(slot, host)
                    if cost < best_cost - _TOLERANCE and ledger.fits(slot, host):
                        best, best_cost = host, cost
                ledger.add(slot, best)
                if best != current:
                    assignment[slot.key] = best
                    moves += 1
                    improved = True
            if not improved:
                break
        return moves


class MILPPlacer:
    """Exact placement as a mixed-integer linear program, solved by HiGHS.

    One binary ``x[slot, host]`` per slot and allowed host (outside the
    primary's failure domain); every slot takes exactly one host; reservations
    plus the primaries' load fit each host's capacity; at most one standby of a
    service per failure domain; the objective is the sum of
    ``problem.slot_cost``. Solved with :func:`scipy.optimize.milp`.

    Parameters
    ----------
    time_limit_s : float, default=30.0
        Wall-clock limit handed to HiGHS; on expiry the best placement found
        so far is returned with its gap.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``variables``, ``constraints``, ``status``
    (HiGHS' message), ``status_code`` and, when HiGHS reports them,
    ``mip_gap`` and ``mip_node_count``.
    """

    def __init__(self, *, time_limit_s: float = 30.0) -> None:
        self.time_limit_s = time_limit_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}(time_limit_s={self.time_limit_s!r})"

    def place(self, problem: PlacementProblem) -> PlacementSolution:
        """Place every standby of ``problem`` at minimum cost.

        Raises
        ------
        ConfigError
            If the problem is malformed or ``time_limit_s`` is not positive.
        """
        start = time.perf_counter()
        value = self.time_limit_s
        if (
            not isinstance(value, numbers.Real)
            or isinstance(value, bool)
            or not value > 0
        ):
            raise ConfigError(
                "`time_limit_s` of `MILPPlacer` must be a positive number of "
                f"seconds; got {value!r}."
            )
        problem.validate()
        slots = problem.slots()
        pairs = [(s, h) for s in slots for h in problem.allowed_hosts(s)]
        info: dict[str, Any] = {"variables": len(pairs)}
        if not slots:
            info.update(constraints=0, status="nothing to place", status_code=0)
            return _finish(problem, {}, info, start)
        stranded = [s.key for s in slots if not problem.allowed_hosts(s)]
        if stranded:
            info.update(constraints=0, status="infeasible", status_code=2)
            info["reason"] = (
                f"no host outside the primary's failure domain for {stranded}"
            )
            return _finish(problem, {}, info, start)

        rows, lower, upper = self._constraints(problem, slots, pairs)
        info["constraints"] = len(lower)
        cost = np.array([problem.slot_cost(s, h) for s, h in pairs], dtype=float)
        matrix = _sparse(rows, len(lower), len(pairs))
        result = milp(
            cost,
            constraints=LinearConstraint(matrix, np.array(lower), np.array(upper)),
            integrality=np.ones(len(pairs)),
            bounds=Bounds(0.0, 1.0),
            options={"time_limit": float(value)},
        )
        info["status"] = result.message
        info["status_code"] = int(result.status)
        for name in ("mip_gap", "mip_node_count"):
            if getattr(result, name, None) is not None:
                info[name] = getattr(result, name)

        if result.x is None:
            info["reason"] = f"HiGHS found no feasible placement: {result.message}"
            return _finish(problem, {}, info, start)
        assignment = {
            s.key: h for (s, h), x in zip(pairs, result.x, strict=True) if x > 0.5
        }
        return _finish(problem, assignment, info, start)

    @staticmethod
    def _constraints(
        problem: PlacementProblem,
        slots: list[StandbySlot],
        pairs: list[tuple[StandbySlot, str]],
    ) -> tuple[list[list[tuple[int, float]]], list[float], list[float]]:
        """Sparse rows (column, coefficient) with their lower and upper bounds."""
        rows: list[list[tuple[int, float]]] = []
        lower: list[float] = []
        upper: list[float] = []

        # Exactly one host per slot.
        for slot in slots:
            rows.append([(j, 1.0) for j, (s, _) in enumerate(pairs) if s == slot])
            lower.append(1.0)
            upper.append(1.0)

        # Reservations fit what the primaries leave of each host.
        load = problem.base_load()
        for host in problem.hosts:
            rows.append(
                [
                    (j, problem.reserved(s))
                    for j, (s, h) in enumerate(pairs)
                    if h == host.name
                ]
            )
            lower.append(-np.inf)
            upper.append(host.capacity - load[host.name])

        # At most one standby of a service per failure domain.
        domain = {h.name: h.domain for h in problem.hosts}
        for service in problem.services:
            for name in sorted(set(domain.values())):
                row = [
                    (j, 1.0)
                    for j, (s, h) in enumerate(pairs)
                    if s.service == service.name and domain[h] == name
                ]
                if len(row) > 1:
                    rows.append(row)
                    lower.append(-np.inf)
                    upper.append(1.0)
        return rows, lower, upper


def _sparse(rows: list[list[tuple[int, float]]], n_rows: int, n_cols: int) -> Any:
    """A CSR matrix from rows of (column, coefficient)."""
    row_idx = [i for i, row in enumerate(rows) for _ in row]
    col_idx = [j for row in rows for j, _ in row]
    data = [c for row in rows for _, c in row]
    return coo_array((data, (row_idx, col_idx)), shape=(n_rows, n_cols)).tocsr()
