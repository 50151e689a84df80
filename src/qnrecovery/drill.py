"""The main job: a failover drill on real telemetry with real processes.

A drill starts a handful of components of the reference workload (one
primary worker process each, with the standbys its tier asks for, placed on
logical hosts by the configured placer), replays one real server's metrics
per component, lets the configured detector, predictor and planner prepare,
and injects a fault into a component at the end of every labelled anomaly
segment of its telemetry. The fault kinds (``config.faults``: kill, hang,
slow, standby-death, cascade, concurrent; see :mod:`qnrecovery.runtime.faults`)
are used in turn. A client load writes and reads through the router all
along; afterwards every acknowledged write is checked, and so is fencing: no
epoch may have writes acknowledged by two primaries.

Examples
--------
>>> from qnrecovery.config import DrillConfig
>>> from qnrecovery.drill import run_drill
>>> report = run_drill(DrillConfig(components=2, duration_s=10))  # doctest: +SKIP
>>> report["summary"]["tiers"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery._version import __version__
from qnrecovery.config import PROFILES, DrillConfig
from qnrecovery.exceptions import (
    BackendNotFoundError,
    ConfigError,
    DataError,
    RuntimeFailure,
)
from qnrecovery.interfaces import (
    HostSpec,
    PathProblem,
    PlacementProblem,
    ServiceSpec,
)
from qnrecovery.orchestrator.engine import Orchestrator, RecoveryRecord
from qnrecovery.orchestrator.events import EventSink
from qnrecovery.orchestrator.forecast import Forecast, forecast
from qnrecovery.orchestrator.planner import PredictionReview, PrepareLevel
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.registry import backend, entries, get_backend_class
from qnrecovery.runtime import faults as fault_injection

__all__ = ["DrillPlan", "ProgressFn", "plan_drill", "run_drill"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: ``progress(stage, done, total)``; ``total`` is 0 for a stage without steps.
ProgressFn = Callable[[str, float, float], None]

_DOMAINS = ("zone-a", "zone-b", "zone-c", "zone-d")


@dataclass
class ChosenBackend:
    """A backend the drill uses, and why."""

    kind: str
    name: str
    asked: str
    cls: type
    options: dict[str, Any]

    def build(self, seed: int) -> Any:
        """A fresh instance; ``random_state`` is seeded when accepted."""
        instance = backend(self.kind, self.name, **self.options)
        seedable = hasattr(instance, "get_params") and (
            "random_state" in instance.get_params()
        )
        if seedable and "random_state" not in self.options:
            instance.set_params(random_state=seed)
        return instance

    def describe(self) -> dict[str, Any]:
        """Name, class and version, for the report."""
        module = self.cls.__module__
        return {
            "name": self.name,
            "asked": self.asked,
            "fallback": self.name != self.asked,
            "class": f"{module}.{self.cls.__qualname__}",
            "version": _library_version(module),
            "options": self.options,
        }


@dataclass
class DrillPlan:
    """Everything decided before the processes start."""

    config: DrillConfig
    servers: list[Any]
    components: list[dict[str, Any]]
    backends: dict[str, ChosenBackend]
    forecasts: dict[int, Forecast]
    reviews: dict[str, PredictionReview]
    placement: dict[str, Any]
    routes: dict[str, dict[str, Any]]
    row_period_s: float
    n_rows: int
    timings: dict[str, float] = field(default_factory=dict)
    placement_problem: PlacementProblem | None = None


def choose_backend(config: DrillConfig, kind: str) -> ChosenBackend:
    """Resolve the backend for ``kind``: explicit, else the profile's.

    A profile's backend that is not installed falls back to the classical
    profile's; a backend named explicitly must exist. Backends that run on a
    quantum or annealing target get the configured ``targets`` unless their
    own options name one.
    """
    asked = config.backend_name(kind)
    options = dict(config.backend_options.get(kind, {}))
    try:
        cls = get_backend_class(kind, asked)
        name = asked
    except BackendNotFoundError:
        if kind in config.backends:
            raise
        name = PROFILES["classical"][kind]
        logger.info("%s backend %r is not installed; using %r", kind, asked, name)
        cls = get_backend_class(kind, name)
    options = _with_targets(config, kind, cls, options)
    return ChosenBackend(kind, name, asked, cls, options)


def _with_targets(
    config: DrillConfig, kind: str, cls: type, options: dict[str, Any]
) -> dict[str, Any]:
    """`options` plus the configured target for a backend that takes one.

    Predictors also get the configured shots on sampling targets; Grover keeps
    its own (one measurement per search round).
    """
    accepted = inspect.signature(cls).parameters
    if "target" not in accepted or "target" in options:
        return options

    targets = config.targets.with_env()
    if kind == "placer":
        return {**options, "target": targets.annealing}
    extra: dict[str, Any] = {"target": targets.quantum}
    if kind == "predictor" and targets.quantum != "statevector" and "shots" in accepted:
        extra["shots"] = targets.shots
    return {**options, **extra}


def _library_version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    top = module.split(".")[0]
    names = {"qnrecovery": "qnrecovery", "sklearn": "scikit-learn"}
    try:
        return version(names.get(top, top))
    except PackageNotFoundError:
        return __version__ if top == "qnrecovery" else "unknown"


# ----------------------------------------------------------------- planning


def load_servers(config: DrillConfig) -> list[Any]:
    """The telemetry the drill replays: the user's path or the bundled ASD."""
    from qnrecovery.data import load_telemetry, sample_servers

    if config.data is None:
        servers = sample_servers()
    else:
        servers = load_telemetry(config.data, nan_policy=config.nan_policy)
    if not servers:
        raise DataError(f"No telemetry found in {config.data}.")
    for server in servers:
        if len(server.test) == 0:
            raise DataError(f"Server {server.name} has an empty test series.")
    return servers


def plan_drill(config: DrillConfig, progress: ProgressFn | None = None) -> DrillPlan:
    """Load data, choose backends, forecast, place standbys and route.

    Raises
    ------
    ConfigError, DataError, BackendNotFoundError
        On bad settings or data, before any process is started.
    """
    say = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    backends = {kind: choose_backend(config, kind) for kind in PROFILES["classical"]}
    servers = load_servers(config)
    timings["load_s"] = time.perf_counter() - started

    components = []
    for index in range(config.components):
        server_index = index % len(servers)
        components.append(
            {
                "name": f"svc-{index + 1}",
                "tier": config.tier_of(index),
                "server_index": server_index,
                "server": servers[server_index].name,
            }
        )

    planner = config.planner.build()
    targets = sorted({c["server_index"] for c in components})
    step = {"done": 0}

    def forecast_progress(message: str) -> None:
        step["done"] += 1
        say(f"forecast: {message}", step["done"], len(servers) + len(targets))

    started = time.perf_counter()
    forecasts = forecast(
        servers,
        targets,
        lambda: backends["detector"].build(config.seed),
        lambda: backends["predictor"].build(config.seed),
        horizon=config.planner.horizon_rows,
        window=config.feature_window,
        progress=forecast_progress,
    )
    timings["forecast_s"] = time.perf_counter() - started
    reviews = {
        c["name"]: planner.review(
            forecasts[c["server_index"]].probabilities,
            _capped(forecasts[c["server_index"]].fault_rows, config),
        )
        for c in components
    }

    started = time.perf_counter()
    say("placement", 0, 0)
    placement, host_nodes, graph = _place(config, components, backends["placer"])
    timings["placement_s"] = time.perf_counter() - started
    started = time.perf_counter()
    routes = _routes(components, placement, host_nodes, graph, backends["path"], config)
    timings["routes_s"] = time.perf_counter() - started

    n_rows = max(len(servers[c["server_index"]].test) for c in components)
    interval = servers[0].interval_s
    if config.speed is not None:
        period = interval / config.speed
    else:
        period = config.duration_s / n_rows
    return DrillPlan(
        config,
        servers,
        components,
        backends,
        forecasts,
        reviews,
        placement,
        routes,
        period,
        n_rows,
        timings,
        placement.pop("problem"),
    )


def _capped(faults: list[int], config: DrillConfig) -> list[int]:
    cap = config.max_faults_per_component
    return faults if cap is None else faults[:cap]


def _place(
    config: DrillConfig,
    components: list[dict[str, Any]],
    placer: ChosenBackend,
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    import networkx as nx

    from qnrecovery.data import collapse_parallel, sample_topology

    graph = sample_topology()

    entry = max(sorted(graph.nodes, key=str), key=graph.degree)
    others = [n for n in sorted(graph.nodes, key=str) if n != entry]
    n_hosts = max(8, len(_DOMAINS) * math.ceil(len(components) / len(_DOMAINS)))
    hosts = []
    host_nodes: dict[str, Any] = {"entry": entry}
    for k in range(n_hosts):
        domain = _DOMAINS[k % len(_DOMAINS)]
        name = f"host-{k + 1}"
        hosts.append(HostSpec(name, capacity=4.0, domain=domain))
        host_nodes[name] = others[k % len(others)]

    simple = collapse_parallel(graph)
    distance = dict(nx.all_pairs_dijkstra_path_length(simple, weight="latency_ms"))
    latency_ms = {
        (a.name, b.name): float(
            distance[host_nodes[a.name]].get(host_nodes[b.name], 100.0)
        )
        for a in hosts
        for b in hosts
        if a.name != b.name
    }

    services = tuple(
        ServiceSpec(c["name"], c["tier"], 1.0, hosts[i % n_hosts].name)
        for i, c in enumerate(components)
    )
    problem = PlacementProblem(services, tuple(hosts), latency_ms)
    solver = placer.build(config.seed)
    solution = solver.place(problem)
    if not solution.feasible:
        raise ConfigError(
            f"Placer {placer.name} found no feasible standby placement: "
            f"{solution.violations or solution.info}"
        )
    for c, service in zip(components, services, strict=True):
        c["hosts"] = {"primary": service.primary_host} | {
            kind.value: solution.assignment[f"{c['name']}/{kind.value}"]
            for kind in TIERS[c["tier"]].standbys
        }
    report = {
        "problem": problem,
        "placer": placer.name,
        "feasible": solution.feasible,
        "objective": solution.objective,
        "assignment": solution.assignment,
        "hosts": {
            h.name: {"domain": h.domain, "node": host_nodes[h.name]} for h in hosts
        },
        "info": _jsonable(solution.info),
    }
    return report, host_nodes, graph


def _routes(
    components: list[dict[str, Any]],
    placement: dict[str, Any],
    host_nodes: dict[str, Any],
    graph: Any,
    searcher_backend: ChosenBackend,
    config: DrillConfig,
) -> dict[str, dict[str, Any]]:
    """Routes from the clients' entry to each standby, computed ahead of time.

    Each route assumes the scenario "the primary's host fails": the primary's
    node is removed from the network before the search.
    """
    searcher = searcher_backend.build(config.seed)
    routes: dict[str, dict[str, Any]] = {}
    for c in components:
        primary_node = host_nodes[c["hosts"]["primary"]]
        for kind, host in c["hosts"].items():
            if kind == "primary":
                continue
            target = host_nodes[host]
            failed = frozenset({primary_node}) - {target, host_nodes["entry"]}
            problem = PathProblem(
                graph,
                host_nodes["entry"],
                (target,),
                failed_nodes=failed,
                latency_budget_ms=50.0,
            )
            solution = searcher.search(problem)
            routes[f"{c['name']}/{kind}"] = {
                "feasible": solution.feasible,
                "path": list(solution.path),
                "latency_ms": solution.objective if solution.feasible else None,
                "searcher": searcher_backend.name,
            }
    return routes


# ------------------------------------------------------------------ running


def run_drill(
    config: DrillConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    workdir: Path | None = None,
    sinks: Sequence[EventSink] = (),
) -> dict[str, Any]:
    """Run a drill and return its report (the JSON report's content).

    Parameters
    ----------
    config : DrillConfig, optional
        Settings; defaults for everything when omitted.
    progress : callable, optional
        ``progress(stage, done, total)``, called as the drill advances.
    workdir : Path, optional
        Folder for snapshot files and the recovery-state file; a temporary
        folder by default.
    sinks : sequence of EventSink, default=()
        Receivers of every recovery event of the orchestrator.

    Returns
    -------
    dict
        The report; see ``docs/report.md`` for its fields.
    """
    from qnrecovery.observability import build_sinks, close_sinks

    config = config or DrillConfig()
    started = time.perf_counter()
    plan = plan_drill(config, progress)

    # Metrics and notifier from the config; calibration is fed after the
    # replay, on the replay's own clock (see _calibrate).
    without_calibration = config.model_copy(
        update={"calibration": config.calibration.model_copy(update={"path": None})}
    )
    owned = build_sinks(without_calibration, period_s=plan.row_period_s)
    try:
        with tempfile.TemporaryDirectory(prefix="qnrecovery-") as tmp:
            folder = Path(workdir) if workdir is not None else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            live = asyncio.run(_live(plan, folder, progress, (*sinks, *owned)))
    finally:
        close_sinks(owned)
    report = build_report(plan, live)
    report["sinks"] = [type(sink).__name__ for sink in (*sinks, *owned)]
    if config.calibration.path is not None:
        report["calibration"] = _calibrate(plan, live)
    report["duration_s"] = time.perf_counter() - started
    return report


def _calibrate(plan: DrillPlan, live: _LiveResult) -> dict[str, Any]:
    """Add this drill's predictions, preparations and faults to the history.

    Times are replay seconds (row index times the row period), so
    predictions, preparations and failures share one clock. The recorder
    calibrates the planner's thresholds on the whole history and writes it.
    """
    from qnrecovery.orchestrator.calibration import CalibrationRecorder

    config = plan.config
    period = plan.row_period_s
    recorder = CalibrationRecorder(
        config.calibration.path,
        target_waste_rate=config.calibration.target_waste_rate,
        horizon_s=config.planner.horizon_rows * period,
        period_s=period,
    )
    for component in plan.components:
        probabilities = plan.forecasts[component["server_index"]].probabilities
        rows = np.arange(len(probabilities))
        recorder.observe_series(
            component["name"], rows * period, probabilities, period_s=period
        )
    for hit in live.injected:
        recorder.history.add_failure(hit.component, hit.row * period)
    for prepared in live.preparations:
        recorder.history.preparations.append(
            {
                "component": prepared["component"],
                "time": prepared["row"] * period,
                "level": prepared["level"],
                "probability": None,
            }
        )
    recorder.close()
    calibration = recorder.calibration
    return {
        "path": str(config.calibration.path),
        "calibration": calibration.to_dict() if calibration is not None else None,
    }


@dataclass
class _Injected:
    component: str
    row: int
    time: float
    deferred_rows: int = 0
    kind: str = "kill"
    trigger: str | None = None
    """For a component hit by another's cascade or concurrent fault: that one."""


@dataclass
class _LiveResult:
    records: list[RecoveryRecord]
    injected: list[_Injected]
    skipped: list[dict[str, Any]]
    preparations: list[dict[str, Any]]
    loss: dict[str, dict[str, Any]]
    router: dict[str, dict[str, Any]]
    suspicions: list[dict[str, Any]]
    started: float
    replay_s: float
    drains: list[dict[str, Any]] = field(default_factory=list)
    fencing: dict[str, Any] = field(default_factory=dict)
    revisions: list[dict[str, Any]] = field(default_factory=list)


async def _live(
    plan: DrillPlan,
    folder: Path,
    progress: ProgressFn | None,
    sinks: tuple[EventSink, ...] = (),
) -> _LiveResult:
    from qnrecovery.runtime.load import ClientLoad
    from qnrecovery.runtime.router import Router
    from qnrecovery.runtime.supervisor import Supervisor

    say = progress or (lambda stage, done, total: None)
    config = plan.config
    async with Supervisor() as supervisor, Router() as router:
        orchestrator = Orchestrator(
            supervisor,
            router,
            folder,
            heartbeat_s=config.heartbeat_ms / 1e3,
            heartbeat_misses=config.heartbeat_misses,
            pause_tolerance_s=config.pause_tolerance_ms / 1e3,
            phi_threshold=config.phi_threshold,
            phi_window=config.phi_window,
            drain=config.planner.drain,
            sinks=sinks,
            routes=lambda name, kind: plan.routes.get(f"{name}/{kind}", {}).get("path"),
        )
        try:
            for i, c in enumerate(plan.components):
                say("starting components", i, len(plan.components))
                await orchestrator.add_component(
                    c["name"], TIERS[c["tier"]], c["hosts"]
                )
            load = ClientLoad(
                router.port,
                [c["name"] for c in plan.components],
                rate=config.write_rate,
            )
            await load.start()
            replay = await _replay(plan, orchestrator, supervisor, load, say)
            await orchestrator.settle(timeout=15.0)
            await asyncio.sleep(0.2)
            say("verifying writes", 0, 0)
            loss = await load.verify(orchestrator.dump)
            return _LiveResult(
                records=list(orchestrator.records),
                injected=replay["injected"],
                skipped=replay["skipped"],
                preparations=replay["preparations"],
                revisions=replay["revisions"],
                loss=loss,
                router={
                    name: {
                        "requests": s.requests,
                        "answered": s.answered,
                        "failed": s.failed,
                        "retried": s.retried,
                        "stale_replies": s.stale_replies,
                        "drained_reads": s.drained_reads,
                    }
                    for name, s in router.stats.items()
                },
                suspicions=list(orchestrator.suspicions),
                started=replay["started"],
                replay_s=replay["replay_s"],
                drains=list(orchestrator.drains),
                fencing={
                    name: {
                        str(epoch): sorted(names)
                        for epoch, names in load.primaries_per_epoch(name).items()
                    }
                    for name in load.ledgers
                },
            )
        finally:
            await orchestrator.close()


async def _replay(
    plan: DrillPlan,
    orchestrator: Orchestrator,
    supervisor: Any,
    load: Any,
    say: ProgressFn,
) -> dict[str, Any]:
    """Play the telemetry rows in (accelerated) real time and inject faults."""
    config = plan.config
    planner = config.planner.build()
    faults = {
        c["name"]: set(_capped(plan.forecasts[c["server_index"]].fault_rows, config))
        for c in plan.components
    }
    deferred: dict[str, list[int]] = {c["name"]: [] for c in plan.components}
    injected: list[_Injected] = []
    skipped: list[dict[str, Any]] = []
    preparations: list[dict[str, Any]] = []
    preparing: dict[str, asyncio.Task[Any]] = {}
    injector = _Injector(plan, orchestrator, supervisor, load)
    replacer = _Replacer(plan, orchestrator)
    snapshot_every = max(1, round(1.0 / plan.row_period_s))

    expected_s = plan.n_rows * plan.row_period_s
    if expected_s > 600:
        logger.warning(
            "The replay will take about %.0f minutes (%d rows every %.3f s); "
            "lower --speed or use --duration to shorten it.",
            expected_s / 60,
            plan.n_rows,
            plan.row_period_s,
        )
    stage = f"replaying telemetry (~{expected_s:.0f} s)"
    started = time.monotonic()
    for row in range(plan.n_rows):
        delay = started + row * plan.row_period_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if row % 50 == 0:
            say(stage, row, plan.n_rows)

        for c in plan.components:
            name = c["name"]
            group = orchestrator.components[name]
            series = plan.forecasts[c["server_index"]]
            if row in faults[name]:
                deferred[name].append(row)
            if deferred[name] and orchestrator.protected(name):
                hits = await injector.inject(name, deferred[name][0], row)
                if hits:
                    deferred[name].pop(0)
                    injected.extend(hits)
            if row >= len(series.probabilities):
                continue
            level = planner.level(float(series.probabilities[row]))
            if level is PrepareLevel.IMMEDIATE:
                replacer.at_risk(name, row, float(series.probabilities[row]))
            task = preparing.get(name)
            if level != group.prepared and (task is None or task.done()):
                probability = float(series.probabilities[row])
                preparing[name] = asyncio.create_task(
                    _prepare(orchestrator, name, level, row, preparations, probability)
                )
            elif row % snapshot_every == 0 and (task is None or task.done()):
                preparing[name] = asyncio.create_task(orchestrator.snapshot(name))

    replay_s = time.monotonic() - started
    say(stage, plan.n_rows, plan.n_rows)
    # Faults at the end of the last row, and faults deferred past it, still
    # happen once the standbys are back.
    for name in deferred:
        deferred[name].extend(sorted(r for r in faults[name] if r >= plan.n_rows))
    drain_until = time.monotonic() + 5.0
    while any(deferred.values()) and time.monotonic() < drain_until:
        for name, rows in deferred.items():
            if rows and orchestrator.protected(name):
                hits = await injector.inject(name, rows[0], plan.n_rows)
                if hits:
                    rows.pop(0)
                    injected.extend(hits)
        await asyncio.sleep(0.01)
    for name, rows in deferred.items():
        skipped.extend(
            {"component": name, "row": r, "reason": "still recovering"} for r in rows
        )
    pending = [t for t in preparing.values() if not t.done()]
    pending += [t for t in injector.tasks if not t.done()]
    pending += [t for t in replacer.tasks if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=10.0)
    return {
        "injected": injected,
        "skipped": skipped,
        "preparations": preparations,
        "started": started,
        "replay_s": replay_s,
        "revisions": replacer.revisions,
    }


class _Replacer:
    """Re-places standbys when a component is predicted to fail.

    When a component's failure probability reaches the planner's immediate
    threshold, the host of its primary is given that probability in the
    placement problem and the placer runs again (in a thread, so recoveries
    are not held up). Standbys whose host changed are moved by the
    orchestrator, make-before-break. Each host is marked at risk once.
    """

    def __init__(self, plan: DrillPlan, orchestrator: Orchestrator) -> None:
        self.plan = plan
        self.orchestrator = orchestrator
        self.enabled = (
            plan.config.planner.replace_standbys and plan.placement_problem is not None
        )
        self.risk: dict[str, float] = {}
        self.assignment: dict[str, str] = dict(plan.placement.get("assignment", {}))
        self.revisions: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self._lock = asyncio.Lock()

    def at_risk(self, name: str, row: int, probability: float) -> None:
        """Note that `name` is predicted to fail; re-place if its host is new."""
        if not self.enabled:
            return
        host = self.orchestrator.components[name].hosts.get("primary")
        if host is None or host in self.risk:
            return
        self.risk[host] = probability
        self.tasks.append(asyncio.create_task(self._revise(name, host, row)))

    async def _revise(self, name: str, host: str, row: int) -> None:
        async with self._lock:
            problem = self.plan.placement_problem
            assert problem is not None
            hosts = tuple(
                dataclasses.replace(h, failure_probability=self.risk.get(h.name, 0.0))
                for h in problem.hosts
            )
            problem = dataclasses.replace(problem, hosts=hosts)
            placer = self.plan.backends["placer"].build(self.plan.config.seed)
            started = time.perf_counter()
            solution = await asyncio.to_thread(placer.place, problem)
            solve_s = time.perf_counter() - started
            revision: dict[str, Any] = {
                "row": row,
                "trigger": name,
                "host_at_risk": host,
                "probability": self.risk[host],
                "feasible": solution.feasible,
                "objective": solution.objective,
                "solve_s": solve_s,
                "moves": [],
            }
            self.revisions.append(revision)
            if not solution.feasible:
                logger.warning(
                    "Re-placement for %s found no feasible placement; keeping "
                    "the standbys where they are.",
                    name,
                )
                return
            for slot, new_host in sorted(solution.assignment.items()):
                old_host = self.assignment.get(slot)
                if old_host == new_host:
                    continue
                component, kind = slot.split("/")
                try:
                    done = await self.orchestrator.move_standby(
                        component, StandbyKind(kind), new_host
                    )
                except RuntimeFailure as err:
                    logger.info("Moving %s to %s failed: %s", slot, new_host, err)
                    done = False
                self.assignment[slot] = new_host
                revision["moves"].append(
                    {"slot": slot, "from": old_host, "to": new_host, "moved": done}
                )
            logger.info(
                "Re-placed standbys (%s at risk): %d moves",
                host,
                len(revision["moves"]),
            )


class _Injector:
    """Injects each fault kind in turn; returns what it hit."""

    def __init__(
        self, plan: DrillPlan, orchestrator: Orchestrator, supervisor: Any, load: Any
    ) -> None:
        self.plan = plan
        self.orchestrator = orchestrator
        self.supervisor = supervisor
        self.load = load
        self.kinds = list(plan.config.faults)
        self.count = 0
        self.tasks: list[asyncio.Task[Any]] = []

    async def inject(self, name: str, fault_row: int, row: int) -> list[_Injected]:
        """Inject the next fault kind at `name`; ``[]`` leaves it for later.

        The fault is injected while a client write is in flight. An empty
        list means the primary changed or exited while the drill waited.
        """
        primary = self.orchestrator.components[name].primary
        with contextlib.suppress(RuntimeFailure):
            # At a low write rate no write may start in time; inject anyway.
            await self.load.wait_write_in_flight(name, timeout=0.05)
        if primary is None or primary is not self.orchestrator.components[name].primary:
            return []
        kind = self.kinds[self.count % len(self.kinds)]
        try:
            hits = await self._inject(kind, name, primary, fault_row, row)
        except RuntimeFailure as err:
            logger.info("%s: %s fault not injected: %s", name, kind, err)
            return []
        self.count += 1
        return hits

    def _note(
        self,
        name: str,
        kind: str,
        when: float,
        fault_row: int,
        row: int,
        trigger: str | None = None,
    ) -> _Injected:
        self.orchestrator.note_fault(name, kind, when)
        return _Injected(name, fault_row, when, row - fault_row, kind, trigger)

    async def _inject(
        self, kind: str, name: str, primary: Any, fault_row: int, row: int
    ) -> list[_Injected]:
        config, sup = self.plan.config, self.supervisor
        if kind == "kill":
            when = fault_injection.inject_kill(sup, primary)
        elif kind == "hang":
            when = fault_injection.inject_hang(sup, primary)
            self.tasks.append(asyncio.create_task(self._resume(primary)))
        elif kind == "slow":
            when = await fault_injection.inject_slow(sup, primary, config.slow_ms / 1e3)
        elif kind == "standby-death":
            group = self.orchestrator.components[name]
            standby = group.live_standby(StandbyKind.HOT) or group.live_standby(
                StandbyKind.WARM
            )
            if standby is None:
                when = fault_injection.inject_kill(sup, primary)
            else:
                when, _ = fault_injection.inject_standby_death(sup, primary, standby)
        else:
            return await self._inject_many(kind, name, fault_row, row)
        logger.info(
            "%s: %s fault at %s for row %d", name, kind, primary.name, fault_row
        )
        return [self._note(name, kind, when, fault_row, row)]

    async def _inject_many(
        self, kind: str, name: str, fault_row: int, row: int
    ) -> list[_Injected]:
        """A cascade (20 ms apart) or concurrent faults (at once) on several."""
        components = self.orchestrator.components
        targets = [
            n for n in [name, *self._others(kind, name)] if components[n].primary
        ]
        primaries = [p for n in targets if (p := components[n].primary) is not None]
        hits: list[_Injected] = []

        def note(i: int, when: float) -> None:
            trigger = None if targets[i] == name else name
            hits.append(self._note(targets[i], kind, when, fault_row, row, trigger))

        interval = 0.02 if kind == "cascade" else 0.0
        await fault_injection.inject_many(self.supervisor, primaries, interval, note)
        logger.info("%s: %s fault on %s for row %d", name, kind, targets, fault_row)
        return hits

    def _others(self, kind: str, name: str) -> list[str]:
        """Protected components to hit with `name`: two, or one per other tier."""
        tier = self.orchestrator.components[name].tier.name
        ready = [
            c["name"]
            for c in self.plan.components
            if c["name"] != name and self.orchestrator.protected(c["name"])
        ]
        if kind == "cascade":
            return ready[:2]
        chosen: dict[str, str] = {}
        for other in ready:
            other_tier = self.orchestrator.components[other].tier.name
            if other_tier != tier:
                chosen.setdefault(other_tier, other)
        return list(chosen.values())

    async def _resume(self, handle: Any) -> None:
        await asyncio.sleep(self.plan.config.hang_ms / 1e3)
        fault_injection.resume(self.supervisor, handle)


async def _prepare(
    orchestrator: Orchestrator,
    name: str,
    level: Any,
    row: int,
    log: list[dict[str, Any]],
    probability: float | None = None,
) -> None:
    action = await orchestrator.prepare(name, level, probability=probability)
    if action is not None:
        log.append(
            {
                "component": name,
                "row": row,
                "level": level.name.lower(),
                "action": action,
            }
        )


# ------------------------------------------------------------------- report


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def build_report(plan: DrillPlan, live: _LiveResult) -> dict[str, Any]:
    """The drill's report as plain data (what ``--json`` writes)."""
    config = plan.config
    by_name = {c["name"]: c for c in plan.components}
    outcome_by_fault = {
        (name, f.fault_row): f
        for name, review in plan.reviews.items()
        for f in review.faults
    }

    recoveries = []
    for fault in live.injected:
        record = next(
            (
                r
                for r in live.records
                if r.component == fault.component and r.fault_time == fault.time
            ),
            None,
        )
        c = by_name[fault.component]
        interval = plan.servers[c["server_index"]].interval_s
        outcome = outcome_by_fault.get((fault.component, fault.row))
        predicted = bool(outcome and outcome.predicted)
        lead_rows = outcome.lead_rows if outcome else 0
        recoveries.append(
            {
                "component": fault.component,
                "tier": c["tier"],
                "server": c["server"],
                "fault": fault.kind,
                "fault_row": fault.row,
                "fault_at_s": fault.time - live.started,
                "deferred_rows": fault.deferred_rows,
                "strategy": record.strategy if record else None,
                "recovered": bool(
                    record and record.ok and record.recovery_ms is not None
                ),
                "recovery_ms": record.recovery_ms if record else None,
                "detect_ms": record.detect_ms if record else None,
                "detected_by": record.detected_by if record else None,
                "escalations": record.escalations if record else 0,
                "attempts": [_attempt(a) for a in record.attempts] if record else [],
                "prepared": record.prepared if record else None,
                "predicted": predicted,
                "lead_time_s": lead_rows * interval if predicted else 0.0,
                "lead_time_replay_s": lead_rows * plan.row_period_s
                if predicted
                else 0.0,
                "new_primary": record.new_primary if record else None,
                "epoch": record.epoch if record else None,
                "route": record.route if record else None,
                "why": record.why if record else None,
                "trigger": fault.trigger,
                "fence_wait_ms": record.fence_wait_ms if record else None,
                "drained": record.drained if record else False,
                "rpo_writes": record.rpo_writes if record else None,
                "rpo_ms": record.rpo_ms if record else None,
                "snapshot_fallbacks": record.snapshot_fallbacks if record else [],
            }
        )

    tiers: dict[str, Any] = {}
    loss: dict[str, Any] = {}
    for tier_name, spec in TIERS.items():
        members = [c["name"] for c in plan.components if c["tier"] == tier_name]
        if not members:
            continue
        times = [
            r["recovery_ms"]
            for r in recoveries
            if r["tier"] == tier_name and r["recovery_ms"] is not None
        ]
        count = sum(1 for r in recoveries if r["tier"] == tier_name)
        tiers[tier_name] = {
            "count": count,
            "recovered": len(times),
            "p50_ms": _percentile(times, 50),
            "p95_ms": _percentile(times, 95),
            "p99_ms": _percentile(times, 99),
            "max_ms": max(times) if times else None,
            "objective_ms": spec.objective_ms,
            "met": bool(times)
            and len(times) == count
            and max(times) <= spec.objective_ms,
            "standbys": [k.value for k in spec.standbys],
        }
        loss[tier_name] = {
            "acked_writes": sum(live.loss[m]["acked_writes"] for m in members),
            "acked_writes_lost": sum(
                live.loss[m]["acked_writes_lost"] for m in members
            ),
            "hot_standby": StandbyKind.HOT in spec.standbys,
            "components": {m: _jsonable(live.loss[m]) for m in members},
            **_rpo([r for r in recoveries if r["tier"] == tier_name]),
        }

    faults_total = len(recoveries)
    predicted_total = sum(1 for r in recoveries if r["predicted"])
    preparations = [p for review in plan.reviews.values() for p in review.preparations]
    needed = sum(1 for p in preparations if p.needed)
    return {
        "schema_version": SCHEMA_VERSION,
        "qnrecovery_version": __version__,
        "config": _jsonable(config.model_dump(mode="json")),
        "data": {
            "source": str(config.data) if config.data else "bundled ASD sample",
            "servers": [s.name for s in plan.servers],
            "interval_s": plan.servers[0].interval_s,
            "rows": plan.n_rows,
            "row_period_s": plan.row_period_s,
        },
        "backends": {kind: b.describe() for kind, b in plan.backends.items()},
        "available_backends": {
            k: [e.name for e in entries(k)] for k in PROFILES["classical"]
        },
        "components": [
            {
                "name": c["name"],
                "tier": c["tier"],
                "server": c["server"],
                "hosts": c["hosts"],
                "faults_planned": len(
                    _capped(plan.forecasts[c["server_index"]].fault_rows, config)
                ),
                "training": plan.forecasts[c["server_index"]].training,
            }
            for c in plan.components
        ],
        "placements": {
            **plan.placement,
            "revisions": live.revisions,
            "moves": sum(len(r["moves"]) for r in live.revisions),
        },
        "routes": plan.routes,
        "recoveries": recoveries,
        "skipped_faults": live.skipped,
        "summary": {
            "tiers": tiers,
            "faults": faults_total,
            "recovered": sum(1 for r in recoveries if r["recovered"]),
            "by_fault": _by_fault(recoveries),
            "false_failovers": _false_failovers(live),
        },
        "data_loss": loss,
        "prediction": {
            "faults": faults_total,
            "predicted": predicted_total,
            "recall": predicted_total / faults_total if faults_total else None,
            "preparations": len(preparations),
            "preparations_needed": needed,
            "preparations_unneeded": len(preparations) - needed,
            "precision": needed / len(preparations) if preparations else None,
            "horizon_rows": config.planner.horizon_rows,
            "thresholds": {
                "prepare": config.planner.prepare,
                "immediate": config.planner.immediate,
            },
            "effect": _prediction_effect(plan, live, recoveries),
        },
        "preparations": live.preparations,
        "suspicions": [
            {**s, "time": s["time"] - live.started} for s in live.suspicions
        ],
        "availability": _availability(live, recoveries),
        "drains": {
            "enabled": config.planner.drain,
            "count": len(live.drains),
            "drained_reads": sum(
                s.get("drained_reads", 0) for s in live.router.values()
            ),
            "recoveries_while_drained": sum(1 for r in recoveries if r["drained"]),
            "events": [{**d, "time": d["time"] - live.started} for d in live.drains],
        },
        "fencing": {
            "primaries_per_epoch": live.fencing,
            "epochs_with_two_primaries": sum(
                1
                for epochs in live.fencing.values()
                for names in epochs.values()
                if len(names) > 1
            ),
            "stale_replies_dropped": sum(
                s.get("stale_replies", 0) for s in live.router.values()
            ),
        },
        "timings": plan.timings | {"replay_s": live.replay_s},
        "timeline": {
            c["name"]: {
                "probability": plan.forecasts[c["server_index"]]
                .probabilities.round(4)
                .tolist(),
                "score": plan.forecasts[c["server_index"]].scores.round(4).tolist(),
                "segments": plan.servers[c["server_index"]].segments,
            }
            for c in plan.components
        },
    }


def _stats(times: list[float]) -> dict[str, Any]:
    return {
        "count": len(times),
        "p50_ms": _percentile(times, 50),
        "p95_ms": _percentile(times, 95),
        "p99_ms": _percentile(times, 99),
        "max_ms": max(times) if times else None,
    }


def _by_fault(recoveries: list[dict[str, Any]]) -> dict[str, Any]:
    """Recovery times per fault kind, and per kind and tier."""
    out: dict[str, Any] = {}
    for kind in sorted({r["fault"] for r in recoveries}):
        mine = [r for r in recoveries if r["fault"] == kind]
        times = [r["recovery_ms"] for r in mine if r["recovery_ms"] is not None]
        tiers = {
            tier: _stats(
                [
                    r["recovery_ms"]
                    for r in mine
                    if r["tier"] == tier and r["recovery_ms"] is not None
                ]
            )
            for tier in sorted({r["tier"] for r in mine})
        }
        out[kind] = {
            **_stats(times),
            "faults": len(mine),
            "escalations": sum(r["escalations"] for r in mine),
            "tiers": tiers,
        }
    return out


def _rpo(recoveries: list[dict[str, Any]]) -> dict[str, Any]:
    """RPO of a tier's recoveries: writes and milliseconds behind the primary."""
    writes = [r["rpo_writes"] for r in recoveries if r["rpo_writes"] is not None]
    ms = [r["rpo_ms"] for r in recoveries if r["rpo_ms"] is not None]
    return {
        "rpo_writes_max": max(writes) if writes else None,
        "rpo_writes_mean": float(np.mean(writes)) if writes else None,
        "rpo_ms_max": max(ms) if ms else None,
        "rpo_ms_p50": _percentile(ms, 50),
    }


def _false_failovers(live: _LiveResult) -> dict[str, Any]:
    """Failovers of a primary no fault was injected into."""
    false = [r for r in live.records if r.fault == "unknown"]
    return {
        "count": len(false),
        "events": [
            {
                "component": r.component,
                "detected_by": r.detected_by,
                "why": r.why,
                "at_s": r.detect_time - live.started,
                "recovered": r.ok,
            }
            for r in false
        ],
    }


def _prediction_effect(
    plan: DrillPlan, live: _LiveResult, recoveries: list[dict[str, Any]]
) -> dict[str, Any]:
    """Recoveries with and without a prediction ahead, lead times, and waste.

    A preparation the drill made (a level change the planner asked for) is
    wasted when no fault hit its component within the planner's horizon
    after it.
    """
    horizon = plan.config.planner.horizon_rows
    groups = {}
    for label, predicted in (("predicted", True), ("unpredicted", False)):
        mine = [r for r in recoveries if r["predicted"] is predicted]
        times = [r["recovery_ms"] for r in mine if r["recovery_ms"] is not None]
        strategies: dict[str, int] = {}
        for r in mine:
            key = r["strategy"] or "failed"
            strategies[key] = strategies.get(key, 0) + 1
        groups[label] = {**_stats(times), "strategies": strategies}
    leads = [r["lead_time_s"] for r in recoveries if r["predicted"]]
    raised = [p for p in live.preparations if p["level"] != "monitor"]
    fault_rows: dict[str, list[int]] = {}
    for fault in live.injected:
        fault_rows.setdefault(fault.component, []).append(fault.row)
    wasted = [
        p
        for p in raised
        if not any(
            p["row"] <= f <= p["row"] + horizon
            for f in fault_rows.get(p["component"], [])
        )
    ]
    return {
        **groups,
        "lead_time_s": {
            "p50": _percentile(leads, 50),
            "max": max(leads) if leads else None,
        },
        "preparations_made": len(raised),
        "preparations_wasted": len(wasted),
        "hot_promotions": sum(1 for p in raised if "hot" in str(p["action"])),
    }


def _attempt(attempt: Any) -> dict[str, Any]:
    """An attempt for the report, without its raw monotonic timestamp."""
    return {k: v for k, v in vars(attempt).items() if k != "switch_time"}


def _availability(
    live: _LiveResult, recoveries: list[dict[str, Any]]
) -> dict[str, Any]:
    per_component = {}
    for name, stats in live.router.items():
        load = live.loss.get(name, {})
        per_component[name] = {
            **stats,
            "write_rate": load.get("write_rate"),
            "failed_writes": load.get("failed_writes"),
            "retried_writes": load.get("retried_writes"),
        }
    first_attempt = sum(
        1 for r in recoveries if r["recovered"] and r["escalations"] == 0
    )
    return {
        "components": per_component,
        "first_attempt_recoveries": first_attempt,
        "recoveries": len(recoveries),
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (numpy scalars and tuples converted)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
