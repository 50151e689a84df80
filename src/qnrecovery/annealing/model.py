"""Standby placement as arrays, as a constrained quadratic model, and its checks.

:class:`PlacementIndex` turns a
:class:`~qnrecovery.interfaces.PlacementProblem` into numbers once (slot by
host cost matrix, reservations, residual capacities, failure domains), so
encoding, decoding, repair and local search never look names up.
:func:`build_cqm` writes the problem as a :class:`dimod.ConstrainedQuadraticModel`
with one binary ``x[slot,host]`` per candidate pair; its objective is
``problem.slot_cost`` summed over the chosen pairs, the same objective the
exact MILP placer minimises, so their numbers compare directly.

:func:`infeasibility` proves a problem infeasible before any solver runs
(a slot with no host outside its primary's domain, too few domains for a
service's standbys, a reservation that fits no allowed host, primaries over a
host's capacity, too little capacity in all) and says by how much.
:func:`constraint_slack` reports every constraint's slack for a placement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qnrecovery.interfaces import (
    DEFAULT_RESERVATION,
    HostSpec,
    PlacementProblem,
    ServiceSpec,
    StandbySlot,
)
from qnrecovery.orchestrator.tiers import TIERS

if TYPE_CHECKING:
    import dimod

__all__ = [
    "ConstraintSlack",
    "PlacementIndex",
    "build_cqm",
    "constraint_slack",
    "infeasibility",
    "variable_label",
]

_TOLERANCE = 1e-9


def variable_label(slot_key: str, host: str) -> str:
    """Label of the binary that puts ``slot_key`` on ``host``."""
    return f"x[{slot_key},{host}]"


@dataclass(frozen=True)
class PlacementIndex:
    """A placement problem as arrays.

    Attributes
    ----------
    problem : PlacementProblem
    slots : list of StandbySlot
        In the order of ``problem.slots()``.
    hosts : list of str
        Host names in the problem's order.
    cost : ndarray of shape (n_slots, n_hosts)
        ``problem.slot_cost``; ``inf`` where the host is in the primary's
        failure domain.
    reserve : ndarray of shape (n_slots,)
        Capacity each slot reserves.
    room : ndarray of shape (n_hosts,)
        Capacity left on each host after its primaries (may be negative).
    domain : ndarray of int, shape (n_hosts,)
        Failure-domain number of each host.
    domains : list of str
        Domain names by number.
    service : ndarray of int, shape (n_slots,)
        Service number of each slot.
    """

    problem: PlacementProblem
    slots: list[StandbySlot]
    hosts: list[str]
    cost: np.ndarray
    reserve: np.ndarray
    room: np.ndarray
    domain: np.ndarray
    domains: list[str]
    service: np.ndarray

    @classmethod
    def build(cls, problem: PlacementProblem) -> PlacementIndex:
        """Index ``problem`` (assumed valid: call ``problem.validate()`` first)."""
        slots = problem.slots()
        hosts = [h.name for h in problem.hosts]
        domains = sorted({h.domain for h in problem.hosts})
        domain = np.array([domains.index(h.domain) for h in problem.hosts], dtype=int)
        services = {s.name: (k, s) for k, s in enumerate(problem.services)}
        host_pos = {name: j for j, name in enumerate(hosts)}
        share = problem.reservation or DEFAULT_RESERVATION

        cost = np.full((len(slots), len(hosts)), math.inf)
        reserve = np.zeros(len(slots))
        service = np.zeros(len(slots), dtype=int)
        for i, slot in enumerate(slots):
            number, spec = services[slot.service]
            service[i] = number
            reserve[i] = share[slot.kind] * spec.demand
            home = domain[host_pos[spec.primary_host]]
            for j, host in enumerate(problem.hosts):
                if domain[j] != home:
                    cost[i, j] = _slot_cost(problem, spec, host, reserve[i])

        load = problem.base_load()
        room = np.array([h.capacity - load[h.name] for h in problem.hosts])
        return cls(problem, slots, hosts, cost, reserve, room, domain, domains, service)

    @property
    def n_slots(self) -> int:
        """Number of standby slots."""
        return len(self.slots)

    def assignment(self, chosen: np.ndarray) -> dict[str, str]:
        """Slot key to host name for an array of host numbers (-1: none)."""
        return {
            slot.key: self.hosts[int(j)]
            for slot, j in zip(self.slots, chosen, strict=True)
            if j >= 0
        }

    def chosen(self, assignment: Mapping[str, str]) -> np.ndarray:
        """Host number per slot for ``assignment`` (-1 where missing)."""
        pos = {name: j for j, name in enumerate(self.hosts)}
        return np.array(
            [pos.get(assignment.get(s.key, ""), -1) for s in self.slots], dtype=int
        )

    def objective(self, chosen: np.ndarray) -> float:
        """Objective of a full placement given as host numbers."""
        return float(self.cost[np.arange(self.n_slots), chosen].sum())

    def load(self, chosen: np.ndarray) -> np.ndarray:
        """Reserved capacity on each host."""
        return np.bincount(chosen, weights=self.reserve, minlength=len(self.hosts))

    def is_feasible(self, chosen: np.ndarray) -> bool:
        """Whether a full placement keeps every constraint."""
        if np.any(chosen < 0):
            return False
        if not np.all(np.isfinite(self.cost[np.arange(self.n_slots), chosen])):
            return False
        if np.any(self.load(chosen) > self.room + _TOLERANCE):
            return False
        pairs = self.service * len(self.domains) + self.domain[chosen]
        return len(np.unique(pairs)) == len(pairs)

    def candidates(self, limit: int | None) -> list[np.ndarray]:
        """Allowed hosts of each slot, cheapest first, at most ``limit`` of them.

        A slot keeps at least as many candidates as its service has standbys,
        in distinct domains where it can, so the pruned model can still
        separate a service's standbys.
        """
        kept = []
        per_service = np.bincount(self.service)
        for i in range(self.n_slots):
            order = np.argsort(self.cost[i], kind="stable")
            order = order[np.isfinite(self.cost[i, order])]
            if limit is None or len(order) <= limit:
                kept.append(order)
                continue
            head = list(order[:limit])
            need = int(per_service[self.service[i]])
            seen = {int(self.domain[j]) for j in head}
            for j in order[limit:]:
                if len(seen) >= need:
                    break
                if int(self.domain[j]) not in seen:
                    head.append(int(j))
                    seen.add(int(self.domain[j]))
            kept.append(np.array(head, dtype=int))
        return kept


def _slot_cost(
    problem: PlacementProblem, spec: ServiceSpec, host: HostSpec, reserve: float
) -> float:
    """``problem.slot_cost`` without its name look-ups."""
    weight = TIERS[spec.tier].weight
    latency = problem.latency(spec.primary_host, host.name)
    return float(
        weight
        * (
            problem.latency_weight * latency
            + problem.risk_weight * host.failure_probability
        )
        + problem.cost_weight * reserve * host.cost
    )


def build_cqm(
    index: PlacementIndex, candidates: list[np.ndarray] | None = None
) -> dimod.ConstrainedQuadraticModel:
    """The placement problem as a constrained quadratic model.

    Parameters
    ----------
    index : PlacementIndex
    candidates : list of ndarray, optional
        Host numbers allowed per slot; every allowed host by default.

    Returns
    -------
    dimod.ConstrainedQuadraticModel
        Binaries ``x[slot,host]``; constraints ``one[slot]`` (exactly one
        host, a discrete constraint), ``capacity[host]`` (reservations fit
        the room the primaries leave) and ``domain[service,domain]`` (at most
        one standby of a service per failure domain).
    """
    import dimod

    if candidates is None:
        candidates = index.candidates(None)
    cqm = dimod.ConstrainedQuadraticModel()
    objective = dimod.BinaryQuadraticModel("BINARY")
    by_host: dict[int, list[tuple[str, float]]] = {}
    by_domain: dict[tuple[int, int], list[str]] = {}
    for i, hosts in enumerate(candidates):
        slot = index.slots[i]
        labels = [variable_label(slot.key, index.hosts[j]) for j in hosts]
        for label, j in zip(labels, hosts, strict=True):
            objective.add_variable(label, float(index.cost[i, j]))
            by_host.setdefault(int(j), []).append((label, float(index.reserve[i])))
            key = (int(index.service[i]), int(index.domain[j]))
            by_domain.setdefault(key, []).append(label)
        if labels:
            cqm.add_discrete(labels, label=f"one[{slot.key}]")
        else:
            cqm.add_constraint_from_iterable([], "==", 1.0, label=f"one[{slot.key}]")
    cqm.set_objective(objective)

    for j, terms in sorted(by_host.items()):
        weighted = [(v, w) for v, w in terms if w > 0]
        if weighted:
            cqm.add_constraint_from_iterable(
                weighted,
                "<=",
                float(index.room[j]),
                label=f"capacity[{index.hosts[j]}]",
            )
    services = [s.name for s in index.problem.services]
    for (service, domain), labels in sorted(by_domain.items()):
        if len(labels) > 1 and _standbys(index, service) > 1:
            cqm.add_constraint_from_iterable(
                [(v, 1.0) for v in labels],
                "<=",
                1.0,
                label=f"domain[{services[service]},{index.domains[domain]}]",
            )
    return cqm


def _standbys(index: PlacementIndex, service: int) -> int:
    return int(np.sum(index.service == service))


# ------------------------------------------------------------------ reports


@dataclass(frozen=True)
class ConstraintSlack:
    """One constraint of a placement and how much room it has left.

    Attributes
    ----------
    name : str
        ``capacity[host]`` or ``domains[service]``.
    used : float
        Reserved units (capacity) or distinct domains used (domains).
    limit : float
        The capacity left after primaries, or the domains the service may use.
    slack : float
        ``limit - used``; negative when the constraint is broken.
    """

    name: str
    used: float
    limit: float
    slack: float


def constraint_slack(
    problem: PlacementProblem, assignment: Mapping[str, str]
) -> list[ConstraintSlack]:
    """Slack of every capacity and failure-domain constraint of ``assignment``.

    Capacity rows give the reserved units against the room left by the
    primaries. Domain rows give, per service with a standby, the failure
    domains its standbys would still have to spare: domains outside the
    primary's one not yet used, minus standbys sharing a domain.
    """
    index = PlacementIndex.build(problem)
    chosen = index.chosen(assignment)
    placed = chosen >= 0
    load = np.bincount(
        chosen[placed], weights=index.reserve[placed], minlength=len(index.hosts)
    )
    rows = [
        ConstraintSlack(
            f"capacity[{h}]",
            float(load[j]),
            float(index.room[j]),
            float(index.room[j] - load[j]),
        )
        for j, h in enumerate(index.hosts)
    ]
    for k, service in enumerate(problem.services):
        mine = np.flatnonzero(index.service == k)
        if len(mine) == 0:
            continue
        home = index.domain[index.hosts.index(service.primary_host)]
        available = len(index.domains) - 1
        used = [int(index.domain[chosen[i]]) for i in mine if chosen[i] >= 0]
        clash = len(used) - len(set(used)) + sum(1 for d in used if d == home)
        rows.append(
            ConstraintSlack(
                f"domains[{service.name}]",
                float(len(used)),
                float(available),
                float(available - len(used) - clash),
            )
        )
    return rows


def infeasibility(index: PlacementIndex) -> list[str]:
    """Reasons the problem cannot be solved, each with the shortfall; empty if none.

    These are necessary conditions only: an empty list does not prove that a
    feasible placement exists.
    """
    reasons: list[str] = []
    problem = index.problem
    for j, host in enumerate(index.hosts):
        if index.room[j] < -_TOLERANCE:
            reasons.append(
                f"capacity[{host}]: its primaries alone need "
                f"{problem.host(host).capacity - index.room[j]:g} units of "
                f"{problem.host(host).capacity:g}, over by {-index.room[j]:g}"
            )
    for k, service in enumerate(problem.services):
        mine = np.flatnonzero(index.service == k)
        if len(mine) == 0:
            continue
        allowed = np.isfinite(index.cost[mine[0]])
        spare = sorted({index.domains[d] for d in index.domain[allowed]})
        home = problem.host(service.primary_host).domain
        if len(spare) < len(mine):
            reasons.append(
                f"domains[{service.name}]: {len(mine)} standby(s) need distinct "
                f"failure domains outside {home!r}; {len(spare)} available "
                f"({', '.join(spare) or 'none'}), short by {len(mine) - len(spare)}"
            )
    room = np.maximum(index.room, 0.0)
    for i, slot in enumerate(index.slots):
        allowed = np.isfinite(index.cost[i])
        if not allowed.any() or index.reserve[i] <= _TOLERANCE:
            continue
        best = float(room[allowed].max())
        if index.reserve[i] > best + _TOLERANCE:
            host = index.hosts[int(np.flatnonzero(allowed)[np.argmax(room[allowed])])]
            reasons.append(
                f"capacity for {slot.key}: it reserves {index.reserve[i]:g} units; "
                f"the most room on an allowed host is {best:g} ({host}), "
                f"short by {index.reserve[i] - best:g}"
            )
    # Hosts that some reserving standby may use at all.
    reserving = index.reserve > _TOLERANCE
    usable = np.isfinite(index.cost[reserving]).any(axis=0)
    need, have = float(index.reserve.sum()), float(room[usable].sum())
    if need > have + _TOLERANCE:
        reasons.append(
            f"total capacity: standbys reserve {need:g} units; the hosts they may "
            f"use have {have:g} left after their primaries, short by {need - have:g}"
        )
    return reasons
