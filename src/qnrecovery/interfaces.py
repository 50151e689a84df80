"""The contracts every backend meets, and the problem and solution dataclasses.

Four kinds of backend exist:

* ``predictor`` — the scikit-learn classifier contract: ``fit(X, y)``,
  ``predict_proba(X)``, ``predict(X)``; column 1 of ``predict_proba`` is the
  probability that the component fails within the horizon.
* ``detector`` — ``fit(X)`` on normal data, ``score(X)`` for a batch and
  ``update(x)`` for one frame of a stream. Scores lie in [0, 1] and higher
  means more anomalous; scores are causal (a prefix's scores equal the prefix
  of the scores).
* ``path`` — ``search(problem: PathProblem) -> PathSolution``.
* ``placer`` — ``place(problem: PlacementProblem) -> PlacementSolution``.

Path searchers and placers are both optimizers: a problem in, a solution with
``feasible``, ``objective`` and ``info`` out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, runtime_checkable

from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind

if TYPE_CHECKING:
    import networkx as nx
    import numpy as np

__all__ = [
    "KINDS",
    "Detector",
    "HostSpec",
    "Kind",
    "PathProblem",
    "PathSearcher",
    "PathSolution",
    "PlacementProblem",
    "PlacementSolution",
    "Placer",
    "Predictor",
    "ServiceSpec",
    "Solution",
    "StandbySlot",
    "link_key",
]

Kind = Literal["predictor", "detector", "path", "placer"]
KINDS: tuple[Kind, ...] = ("predictor", "detector", "path", "placer")


@runtime_checkable
class Predictor(Protocol):
    """Probability that a component fails within the horizon."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Detector(Protocol):
    """Anomaly scores in [0, 1] for a metric stream; higher is more anomalous."""

    def fit(self, X: np.ndarray) -> Self: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...

    def update(self, x: np.ndarray) -> float: ...


@dataclass
class Solution:
    """What every optimizer returns.

    Attributes
    ----------
    feasible : bool
        Whether the answer satisfies every constraint of the problem.
    objective : float
        The objective of the answer (lower is better); ``inf`` when infeasible.
    info : dict
        What the backend did: wall time, iterations, reads, qubits, ...
    """

    feasible: bool
    objective: float = math.inf
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- paths


def link_key(u: Any, v: Any) -> frozenset[Any]:
    """Return the key of the undirected link between ``u`` and ``v``."""
    return frozenset((u, v))


@dataclass(frozen=True)
class PathProblem:
    """Find a route from ``source`` to one of ``targets`` that avoids failures.

    Parameters
    ----------
    graph : networkx.Graph or networkx.MultiGraph
        Undirected network. Every edge has a ``latency_ms`` attribute (see
        :func:`qnrecovery.data.topology.load_topology`); parallel edges are
        allowed and the fastest working one is used.
    source : hashable
        Node where the clients enter.
    targets : tuple
        Candidate nodes holding a standby; any one of them will do.
    failed_nodes : frozenset, default=frozenset()
        Nodes that must not be on the route.
    failed_links : frozenset of frozenset, default=frozenset()
        Links (see :func:`link_key`) that must not be used. A failed link
        between ``u`` and ``v`` removes every parallel edge between them.
    latency_budget_ms : float, default=inf
        A route is feasible only if its total latency is at most this.
    """

    graph: nx.Graph
    source: Any
    targets: tuple[Any, ...]
    failed_nodes: frozenset[Any] = frozenset()
    failed_links: frozenset[frozenset[Any]] = frozenset()
    latency_budget_ms: float = math.inf

    def validate(self) -> None:
        """Raise :class:`ConfigError` if the problem is malformed."""
        if self.source not in self.graph:
            raise ConfigError(
                f"PathProblem source {self.source!r} is not in the graph."
            )
        if not self.targets:
            raise ConfigError("PathProblem needs at least one target; got none.")
        missing = [t for t in self.targets if t not in self.graph]
        if missing:
            raise ConfigError(f"PathProblem targets {missing!r} are not in the graph.")
        if not (self.latency_budget_ms > 0):
            raise ConfigError(
                "PathProblem latency_budget_ms must be positive; "
                f"got {self.latency_budget_ms!r}."
            )

    def path_latency(self, path: tuple[Any, ...]) -> float:
        """Latency of ``path`` over working links, or ``inf`` if it uses a failure."""
        if not path or any(node in self.failed_nodes for node in path):
            return math.inf
        total = 0.0
        for u, v in itertools.pairwise(path):
            if link_key(u, v) in self.failed_links or not self.graph.has_edge(u, v):
                return math.inf
            data = self.graph.get_edge_data(u, v)
            if self.graph.is_multigraph():
                total += min(float(d["latency_ms"]) for d in data.values())
            else:
                total += float(data["latency_ms"])
        return total

    def is_feasible(self, path: tuple[Any, ...]) -> bool:
        """Whether ``path`` reaches a target over working elements within budget."""
        if not path or path[0] != self.source or path[-1] not in self.targets:
            return False
        latency = self.path_latency(path)
        return math.isfinite(latency) and latency <= self.latency_budget_ms


@dataclass
class PathSolution(Solution):
    """A route, or the report that none exists.

    Attributes
    ----------
    path : tuple
        Nodes from the source to the chosen target; empty when infeasible.
    target : hashable or None
        The standby node reached.
    objective : float
        Latency of the route in milliseconds.
    """

    path: tuple[Any, ...] = ()
    target: Any = None


@runtime_checkable
class PathSearcher(Protocol):
    """Finds a recovery route."""

    def search(self, problem: PathProblem) -> PathSolution: ...


# ----------------------------------------------------------------------- placement


@dataclass(frozen=True)
class ServiceSpec:
    """A service to protect.

    Parameters
    ----------
    name : str
        Unique name.
    tier : str
        One of the tiers in :data:`qnrecovery.orchestrator.tiers.TIERS`.
    demand : float
        Resource units the primary uses; a hot standby reserves all of it.
    primary_host : str
        Host that runs the primary.
    """

    name: str
    tier: str
    demand: float
    primary_host: str


@dataclass(frozen=True)
class HostSpec:
    """A host that can hold standbys.

    Parameters
    ----------
    name : str
        Unique name.
    capacity : float
        Resource units available, primaries included.
    domain : str
        Failure domain (rack or zone); hosts in one domain fail together.
    failure_probability : float, default=0.0
        Predicted probability that the host fails within the horizon.
    cost : float, default=1.0
        Cost of one reserved resource unit on this host.
    """

    name: str
    capacity: float
    domain: str
    failure_probability: float = 0.0
    cost: float = 1.0


@dataclass(frozen=True)
class StandbySlot:
    """One standby that must be placed: a service and a standby kind."""

    service: str
    kind: StandbyKind

    @property
    def key(self) -> str:
        """The slot's name in reports, ``service/kind``."""
        return f"{self.service}/{self.kind.value}"


DEFAULT_RESERVATION: Mapping[StandbyKind, float] = {
    StandbyKind.HOT: 1.0,
    StandbyKind.WARM: 0.5,
    StandbyKind.COLD: 0.0,
}


@dataclass(frozen=True)
class PlacementProblem:
    """Decide which host holds each standby.

    Constraints: every slot gets one host; reserved capacity plus the primaries
    on a host fits its capacity; no standby shares its primary's failure
    domain; the standbys of one service sit in distinct domains.

    Objective (lower is better), summed over slots::

        tier_weight * (latency_weight * latency(primary, host)
                       + risk_weight * failure_probability(host))
        + cost_weight * reserved(slot) * cost(host)

    Parameters
    ----------
    services : tuple of ServiceSpec
    hosts : tuple of HostSpec
    latency_ms : mapping of (host, host) to float, default={}
        One-way latency between hosts; missing pairs are looked up reversed,
        then taken as ``default_latency_ms`` (0 for a host with itself).
    standbys : mapping of tier name to tuple of StandbyKind, default=None
        Standbys per tier; ``None`` takes each tier's defaults.
    reservation : mapping of StandbyKind to float, default=None
        Share of a service's demand each kind reserves (hot 1.0, warm 0.5,
        cold 0.0 by default).
    latency_weight, risk_weight, cost_weight : float
        Weights of the objective's terms.
    default_latency_ms : float, default=1.0
    """

    services: tuple[ServiceSpec, ...]
    hosts: tuple[HostSpec, ...]
    latency_ms: Mapping[tuple[str, str], float] = field(default_factory=dict)
    standbys: Mapping[str, tuple[StandbyKind, ...]] | None = None
    reservation: Mapping[StandbyKind, float] | None = None
    latency_weight: float = 1.0
    risk_weight: float = 10.0
    cost_weight: float = 0.1
    default_latency_ms: float = 1.0

    # -- derived views -------------------------------------------------------

    def host(self, name: str) -> HostSpec:
        """Return the host called ``name``."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise ConfigError(f"PlacementProblem has no host {name!r}.")

    def service(self, name: str) -> ServiceSpec:
        """Return the service called ``name``."""
        for service in self.services:
            if service.name == name:
                return service
        raise ConfigError(f"PlacementProblem has no service {name!r}.")

    def slots(self) -> list[StandbySlot]:
        """Every standby to place, service by service, in recovery order."""
        standbys = self.standbys or {}
        slots: list[StandbySlot] = []
        for service in self.services:
            kinds = standbys.get(service.tier, TIERS[service.tier].standbys)
            slots.extend(StandbySlot(service.name, StandbyKind(k)) for k in kinds)
        return slots

    def reserved(self, slot: StandbySlot) -> float:
        """Capacity that ``slot`` reserves on its host."""
        share = (self.reservation or DEFAULT_RESERVATION)[slot.kind]
        return share * self.service(slot.service).demand

    def latency(self, a: str, b: str) -> float:
        """Latency between hosts ``a`` and ``b`` in milliseconds."""
        if a == b:
            return 0.0
        if (a, b) in self.latency_ms:
            return float(self.latency_ms[(a, b)])
        if (b, a) in self.latency_ms:
            return float(self.latency_ms[(b, a)])
        return self.default_latency_ms

    def allowed_hosts(self, slot: StandbySlot) -> list[str]:
        """Hosts outside the failure domain of the slot's primary."""
        primary_domain = self.host(self.service(slot.service).primary_host).domain
        return [h.name for h in self.hosts if h.domain != primary_domain]

    def slot_cost(self, slot: StandbySlot, host_name: str) -> float:
        """The objective's contribution of putting ``slot`` on ``host_name``."""
        service = self.service(slot.service)
        host = self.host(host_name)
        weight = TIERS[service.tier].weight
        latency = self.latency(service.primary_host, host_name)
        return (
            weight
            * (
                self.latency_weight * latency
                + self.risk_weight * host.failure_probability
            )
            + self.cost_weight * self.reserved(slot) * host.cost
        )

    def base_load(self) -> dict[str, float]:
        """Capacity the primaries use on each host."""
        load = {h.name: 0.0 for h in self.hosts}
        for service in self.services:
            load[service.primary_host] += service.demand
        return load

    # -- checks --------------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`ConfigError` if the problem is malformed."""
        if not self.services or not self.hosts:
            raise ConfigError("PlacementProblem needs at least one service and host.")
        host_names = [h.name for h in self.hosts]
        if len(set(host_names)) != len(host_names):
            raise ConfigError("PlacementProblem host names must be unique.")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ConfigError("PlacementProblem service names must be unique.")
        for service in self.services:
            if service.tier not in TIERS:
                raise ConfigError(
                    f"Service {service.name!r} has unknown tier {service.tier!r}; "
                    f"expected one of {', '.join(TIERS)}."
                )
            if service.primary_host not in host_names:
                raise ConfigError(
                    f"Service {service.name!r} names primary host "
                    f"{service.primary_host!r}, which is not among the hosts."
                )
            if not (service.demand >= 0 and math.isfinite(service.demand)):
                raise ConfigError(
                    f"Service {service.name!r} demand must be a finite number >= 0; "
                    f"got {service.demand!r}."
                )
        for host in self.hosts:
            if not (host.capacity >= 0 and math.isfinite(host.capacity)):
                raise ConfigError(
                    f"Host {host.name!r} capacity must be a finite number >= 0; "
                    f"got {host.capacity!r}."
                )
        for slot in self.slots():
            kinds = [s.kind for s in self.slots() if s.service == slot.service]
            if kinds.count(slot.kind) > 1:
                raise ConfigError(
                    f"Service {slot.service!r} lists standby kind "
                    f"{slot.kind.value!r} twice; each kind may appear once."
                )

    def violations(self, assignment: Mapping[str, str]) -> list[str]:
        """Every constraint that ``assignment`` (slot key to host) breaks."""
        problems: list[str] = []
        load = self.base_load()
        domains_by_service: dict[str, list[str]] = {}
        for slot in self.slots():
            host_name = assignment.get(slot.key)
            if host_name is None:
                problems.append(f"{slot.key} has no host")
                continue
            if host_name not in load:
                problems.append(f"{slot.key} is on unknown host {host_name!r}")
                continue
            load[host_name] += self.reserved(slot)
            if host_name not in self.allowed_hosts(slot):
                problems.append(f"{slot.key} shares its primary's failure domain")
            domain = self.host(host_name).domain
            seen = domains_by_service.setdefault(slot.service, [])
            if domain in seen:
                problems.append(f"{slot.key} shares a domain with another standby")
            seen.append(domain)
        for host in self.hosts:
            if load[host.name] > host.capacity + 1e-9:
                problems.append(
                    f"host {host.name} over capacity: "
                    f"{load[host.name]:g} > {host.capacity:g}"
                )
        return problems

    def objective(self, assignment: Mapping[str, str]) -> float:
        """The objective of ``assignment``; ``inf`` if a slot has no host."""
        total = 0.0
        for slot in self.slots():
            host_name = assignment.get(slot.key)
            if host_name is None:
                return math.inf
            total += self.slot_cost(slot, host_name)
        return total


@dataclass
class PlacementSolution(Solution):
    """Hosts for the standbys.

    Attributes
    ----------
    assignment : dict of str to str
        Slot key (``service/kind``) to host name; empty when infeasible.
    violations : list of str
        Constraints the assignment breaks; empty when feasible.
    """

    assignment: dict[str, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


@runtime_checkable
class Placer(Protocol):
    """Places standbys on hosts."""

    def place(self, problem: PlacementProblem) -> PlacementSolution: ...
