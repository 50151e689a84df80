"""A SimPy model of a fleet of components, for policy evaluation at scale.

One machine cannot run thousands of components as processes; this model
runs them in simulated time and keeps the decisions on the same code paths
as the drill:

* **Failures** come from real telemetry: each component replays one server's
  test split (bundled ASD sample by default) from a random row offset
  (seeded), wrapping around, and fails at the end of every labelled anomaly
  segment that falls inside the simulated span, at a uniformly random
  moment of the segment's last row.
* **Predictions** come from the configured detector and predictor through
  :func:`qnrecovery.orchestrator.forecast.forecast`, run once per server
  (leave one server out), so each component sees the probabilities the
  drill would see for that server.
* **Preparations** come from :class:`~qnrecovery.orchestrator.planner.Planner`:
  its level decides, as in the recovery engine, whether a component gets a
  fresh snapshot and a warm standby (``gradual``) or a hot one
  (``immediate``). Preparations are judged with ``Planner.review``, as the
  drill judges them.
* **Placement**: the configured placer places every cell's standbys (and
  the slot a preparation would use) ahead of time; a preparation only
  reserves that slot's capacity when it happens, and is denied when the
  host has none left.
* **Recovery** tries the component's ready standbys, hot then warm, then a
  cold start (which waits for one of its host's launchers); the step
  durations come from :class:`~qnrecovery.fleet.timing.RecoveryTimeModel`.

What it does not model is listed in ``docs/limitations.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.fleet.config import FleetConfig
from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
from qnrecovery.orchestrator.events import EventSink, RecoveryEvent, emit
from qnrecovery.orchestrator.planner import PredictionReview, PrepareLevel
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind

__all__ = [
    "ProgressFn",
    "ServerForecast",
    "choose_backends",
    "load_forecasts",
    "simulate_fleet",
]

logger = logging.getLogger(__name__)

#: ``progress(stage, done, total)``, as for the drill.
ProgressFn = Callable[[str, float, float], None]

SCHEMA_VERSION = 1
_DOMAINS = ("zone-a", "zone-b", "zone-c", "zone-d")
_RESERVE = {"hot": 1.0, "warm": 0.5, "cold": 0.0}
#: Most component-rows simulated at once (8 bytes each, a few copies).
_MAX_COMPONENT_ROWS = 50_000_000


@dataclass
class ServerForecast:
    """One server's replayed probabilities and fault rows.

    Attributes
    ----------
    name : str
    probabilities : ndarray of shape (T,)
    fault_rows : list of int
        Rows at whose start a fault happens (one past each anomaly segment).
    interval_s : float
        Seconds per row.
    """

    name: str
    probabilities: np.ndarray
    fault_rows: list[int]
    interval_s: float


@dataclass
class _Standby:
    kind: str
    host: int
    reserved: float
    ready_at: float
    extra: bool = False
    upgraded: bool = False


@dataclass
class _Component:
    index: int
    name: str
    tier: str
    server: int
    offset: int
    probabilities: np.ndarray
    fault_rows: list[int]
    primary_host: int = 0
    prep_host: int = 0
    cold_host: int = 0
    standbys: dict[str, _Standby] = field(default_factory=dict)
    level: int = 0
    recovering: bool = False


@dataclass
class _Fault:
    component: str
    tier: str
    time: float
    row: int
    level: int
    strategy: str | None = None
    recovery_ms: float | None = None
    attempts: list[str] = field(default_factory=list)
    queued_ms: float = 0.0
    prepared_standby: bool = False


# ------------------------------------------------------------------ set-up


def _build_components(
    config: FleetConfig, servers: Sequence[ServerForecast], n_rows: int
) -> list[_Component]:
    """Map components onto servers with random offsets (seeded)."""
    rng = np.random.default_rng([config.seed, 1])
    components = []
    for i in range(config.components):
        s = int(rng.integers(len(servers)))
        server = servers[s]
        length = len(server.probabilities)
        offset = int(rng.integers(length))
        rows = (offset + np.arange(n_rows)) % length
        faults = sorted(
            r + k * length
            for f in server.fault_rows
            for r in [(f - offset) % length]
            for k in range(n_rows // length + 1)
            if 1 <= r + k * length <= n_rows
        )
        components.append(
            _Component(
                i,
                f"svc-{i + 1}",
                config.tier_of(i),
                s,
                offset,
                server.probabilities[rows],
                faults,
            )
        )
    return components


def _standby_kinds(tier: str) -> tuple[StandbyKind, ...]:
    """The tier's standbys plus the slot a preparation would add."""
    kinds = TIERS[tier].standbys
    if StandbyKind.HOT in kinds or StandbyKind.WARM in kinds:
        return kinds
    return (*kinds, StandbyKind.WARM)


@dataclass
class _Cell:
    hosts: list[HostSpec]
    members: list[_Component]
    first_host: int


def _place(
    config: FleetConfig,
    components: list[_Component],
    make_placer: Callable[[], Any],
) -> tuple[list[HostSpec], dict[str, Any]]:
    """Run the placer once per cell; fill in each component's hosts."""
    rng = np.random.default_rng([config.seed, 2])
    hosts: list[HostSpec] = []
    objective, wall = 0.0, 0.0
    placer = make_placer()
    n_cells = math.ceil(len(components) / config.cell_size)
    for c in range(n_cells):
        members = components[c * config.cell_size : (c + 1) * config.cell_size]
        n_hosts = max(4, math.ceil(len(members) / config.components_per_host))
        cell_hosts = [
            HostSpec(
                f"c{c + 1}-h{k + 1}",
                config.host_capacity,
                f"c{c + 1}-{_DOMAINS[k % len(_DOMAINS)]}",
            )
            for k in range(n_hosts)
        ]
        first = len(hosts)
        hosts.extend(cell_hosts)
        solution, problem = _place_cell(config, members, cell_hosts, placer, rng)
        if not solution.feasible:
            raise ConfigError(
                f"The placer found no feasible standby placement for cell {c + 1} "
                f"({len(members)} components on {n_hosts} hosts of capacity "
                f"{config.host_capacity}): {solution.info.get('reason', '')}. "
                "Raise host_capacity or lower components_per_host."
            )
        objective += float(solution.objective)
        wall += float(solution.info.get("wall_time_s", 0.0))
        _assign(problem, solution.assignment, members, cell_hosts, first)
    info = {
        "cells": n_cells,
        "hosts": len(hosts),
        "objective": objective,
        "placer_wall_s": wall,
    }
    return hosts, info


def _place_cell(
    config: FleetConfig,
    members: list[_Component],
    cell_hosts: list[HostSpec],
    placer: Any,
    rng: np.random.Generator,
) -> tuple[Any, PlacementProblem]:
    names = [h.name for h in cell_hosts]
    latency = {
        (a, b): float(rng.uniform(1.0, 20.0))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    services = tuple(
        ServiceSpec(m.name, m.tier, 1.0, names[j % len(names)])
        for j, m in enumerate(members)
    )
    problem = PlacementProblem(
        services,
        tuple(cell_hosts),
        latency,
        standbys={tier: _standby_kinds(tier) for tier in TIERS},
    )
    return placer.place(problem), problem


def _assign(
    problem: PlacementProblem,
    assignment: dict[str, str],
    members: list[_Component],
    cell_hosts: list[HostSpec],
    first: int,
) -> None:
    """Record the placer's hosts: base standbys, the preparation slot, cold."""
    index = {h.name: first + k for k, h in enumerate(cell_hosts)}
    for member, service in zip(members, problem.services, strict=True):
        member.primary_host = index[service.primary_host]
        base = TIERS[member.tier].standbys
        hosts = {
            kind.value: index[assignment[f"{member.name}/{kind.value}"]]
            for kind in _standby_kinds(member.tier)
        }
        for kind in base:
            if kind is not StandbyKind.COLD:
                member.standbys[kind.value] = _Standby(
                    kind.value, hosts[kind.value], _RESERVE[kind.value], 0.0
                )
        # A preparation warms the tier's warm slot (or adds one), and a cold
        # start runs where the cold slot is, else beside the first standby.
        member.prep_host = hosts.get("warm", hosts.get("hot", member.primary_host))
        member.cold_host = hosts.get("cold", next(iter(hosts.values())))


# ---------------------------------------------------------------- the model


class _Fleet:
    """The SimPy processes and the ledgers they update."""

    def __init__(
        self,
        config: FleetConfig,
        components: list[_Component],
        hosts: list[HostSpec],
        interval_s: float,
        sinks: Sequence[EventSink],
        wall_start: float,
    ) -> None:
        self.config = config
        self.env = simpy.Environment()
        self.rng = np.random.default_rng([config.seed, 3])
        self.components = components
        self.interval_s = interval_s
        self.planner = config.planner.build()
        self.sinks = list(sinks)
        self.wall_start = wall_start
        self.launchers = [
            simpy.Resource(self.env, capacity=config.cold_starts_per_host)
            for _ in hosts
        ]
        load = np.zeros(len(hosts))
        for c in components:
            load[c.primary_host] += 1.0
        self.standby_capacity = float(sum(h.capacity for h in hosts) - load.sum())
        self.free = np.array([h.capacity for h in hosts]) - load
        self.reserved = 0.0
        self.extra_reserved = 0.0
        self.reserved_area = 0.0
        self.extra_area = 0.0
        self.last_change = 0.0
        self.faults: list[_Fault] = []
        self.counts = {
            "snapshots": 0,
            "extra_standbys": 0,
            "upgrades": 0,
            "denied": 0,
            "releases": 0,
            "skipped_faults": 0,
        }
        for c in components:
            for s in c.standbys.values():
                self._reserve(s.host, s.reserved, extra=False)

    # -- ledgers -----------------------------------------------------------

    def _tick(self) -> None:
        now = self.env.now
        self.reserved_area += self.reserved * (now - self.last_change)
        self.extra_area += self.extra_reserved * (now - self.last_change)
        self.last_change = now

    def _reserve(self, host: int, amount: float, *, extra: bool) -> bool:
        if amount > 0 and self.free[host] + 1e-9 < amount:
            return False
        self._tick()
        self.free[host] -= amount
        self.reserved += amount
        if extra:
            self.extra_reserved += amount
        return True

    def _unreserve(self, host: int, amount: float, *, extra: bool) -> None:
        self._tick()
        self.free[host] += amount
        self.reserved -= amount
        if extra:
            self.extra_reserved -= amount

    def _emit(self, kind: Any, c: _Component, **fields: Any) -> None:
        if not self.sinks:
            return
        detail = fields.pop("detail", {})
        detail["sim_time_s"] = self.env.now
        event = RecoveryEvent(
            kind,
            c.name,
            c.tier,
            wall_time=self.wall_start + self.env.now,
            detail=detail,
            **fields,
        )
        emit(self.sinks, event)

    # -- processes -----------------------------------------------------------

    def start(self) -> None:
        for c in self.components:
            self.env.process(self._life(c, self._timeline(c)))

    def _timeline(self, c: _Component) -> list[tuple[float, int, int]]:
        """(time, order, payload): faults (order 0) and level changes (1)."""
        levels = self.planner.levels(c.probabilities)
        changes = np.flatnonzero(np.diff(levels, prepend=np.int8(0)))
        events = [(float(r) * self.interval_s, 1, int(r)) for r in changes]
        jitter = self.rng.random(len(c.fault_rows))
        events += [
            ((f - 1 + u) * self.interval_s, 0, f)
            for f, u in zip(c.fault_rows, jitter, strict=True)
        ]
        return sorted(events)

    def _life(self, c: _Component, timeline: list[tuple[float, int, int]]) -> Any:
        levels = self.planner.levels(c.probabilities)
        for when, order, row in timeline:
            if when > self.env.now:
                yield self.env.timeout(when - self.env.now)
            if order == 0:
                self.env.process(self._recover(c, row))
            else:
                self._set_level(c, int(levels[row]), float(c.probabilities[row]))

    def _set_level(self, c: _Component, level: int, probability: float) -> None:
        old, c.level = c.level, level
        if level == PrepareLevel.MONITOR:
            self._release(c)
            return
        actions = []
        if old == PrepareLevel.MONITOR:
            self.counts["snapshots"] += 1
            actions.append("snapshot")
            if not any(k in c.standbys for k in ("hot", "warm")):
                actions.append(self._add_warm(c))
        if level == PrepareLevel.IMMEDIATE and "hot" not in c.standbys:
            actions.append(self._make_hot(c))
        self._emit(
            "prepared",
            c,
            reason=PrepareLevel(level).name.lower(),
            detail={"probability": probability, "action": "+".join(actions)},
        )

    def _activation_s(self) -> float:
        timing = self.config.timing
        return (
            timing.start_cold.sample(self.rng) + timing.restore_cold.sample(self.rng)
        ) / 1e3

    def _add_warm(self, c: _Component) -> str:
        if not self._reserve(c.prep_host, _RESERVE["warm"], extra=True):
            self.counts["denied"] += 1
            return "warm-denied"
        ready = self.env.now + self._activation_s()
        c.standbys["warm"] = _Standby("warm", c.prep_host, 0.5, ready, extra=True)
        self.counts["extra_standbys"] += 1
        return "warm"

    def _make_hot(self, c: _Component) -> str:
        warm = c.standbys.get("warm")
        if warm is None:
            return "hot-skipped"
        more = _RESERVE["hot"] - warm.reserved
        if not self._reserve(warm.host, more, extra=True):
            self.counts["denied"] += 1
            return "hot-denied"
        del c.standbys["warm"]
        warm.kind, warm.reserved, warm.upgraded = "hot", _RESERVE["hot"], True
        warm.ready_at = max(warm.ready_at, self.env.now + self._activation_s())
        c.standbys["hot"] = warm
        self.counts["upgrades"] += 1
        return "hot"

    def _release(self, c: _Component) -> None:
        """Back to monitoring: drop added standbys, turn made-hot ones warm."""
        for kind, s in list(c.standbys.items()):
            if s.extra:
                self._unreserve(s.host, s.reserved, extra=True)
                del c.standbys[kind]
            elif s.upgraded:
                self._unreserve(s.host, s.reserved - _RESERVE["warm"], extra=True)
                del c.standbys[kind]
                s.kind, s.reserved, s.upgraded = "warm", _RESERVE["warm"], False
                c.standbys["warm"] = s
            else:
                continue
            self.counts["releases"] += 1

    def _recover(self, c: _Component, row: int) -> Any:
        if c.recovering:
            self.counts["skipped_faults"] += 1
            return
        c.recovering = True
        started = self.env.now
        fault = _Fault(c.name, c.tier, started, row, c.level)
        self.faults.append(fault)
        timing = self.config.timing

        yield self.env.timeout(timing.detect_ms(self.rng) / 1e3)
        self._emit("suspected", c, reason="exit", detail={"fault_row": row})
        ready = [
            c.standbys[k]
            for k in ("hot", "warm")
            if k in c.standbys and c.standbys[k].ready_at <= self.env.now
        ]
        for standby in [*ready, None]:
            kind = standby.kind if standby else "cold"
            fault.attempts.append(kind)
            ok = yield from self._attempt(c, kind, fault)
            if ok:
                self._recovered(c, fault, standby, started)
                break
            self._emit("escalated", c, reason=kind, detail={"fault_row": row})
        else:
            self._emit(
                "unrecovered",
                c,
                reason="every standby failed",
                detail={"fault_row": row, "attempts": list(fault.attempts)},
            )
        c.recovering = False

    def _attempt(self, c: _Component, kind: str, fault: _Fault) -> Any:
        timing = self.config.timing
        if kind == "cold":
            with self.launchers[c.cold_host].request() as request:
                queued = self.env.now
                yield request
                fault.queued_ms += (self.env.now - queued) * 1e3
                return (yield from self._run_attempt(kind, timing))
        return (yield from self._run_attempt(kind, timing))

    def _run_attempt(self, kind: str, timing: Any) -> Any:
        if timing.fails(kind, self.rng):
            yield self.env.timeout(timing.attempt_timeout_ms / 1e3)
            return False
        yield self.env.timeout(timing.activation_ms(kind, self.rng) / 1e3)
        return True

    def _recovered(
        self, c: _Component, fault: _Fault, standby: _Standby | None, started: float
    ) -> None:
        fault.strategy = standby.kind if standby else "cold"
        fault.recovery_ms = (self.env.now - started) * 1e3
        fault.prepared_standby = bool(standby and (standby.extra or standby.upgraded))
        if standby is not None:
            # The standby is now the primary; a new one is rebuilt in its slot.
            standby.ready_at = self.env.now + self.config.rebuild_s
        detail = {
            "fault_row": fault.row,
            "fault_time": self.wall_start + started,
            "level": PrepareLevel(fault.level).name.lower(),
        }
        self._emit(
            "recovered",
            c,
            duration_s=fault.recovery_ms / 1e3,
            reason=fault.strategy,
            detail=detail,
        )
        if fault.recovery_ms > TIERS[c.tier].objective_ms:
            self._emit(
                "objective-missed",
                c,
                duration_s=fault.recovery_ms / 1e3,
                reason=fault.strategy,
                detail=detail,
            )

    def run(self, until: float) -> None:
        self.start()
        self.env.run(until=until)
        self._tick()


# ------------------------------------------------------------------ driving


def choose_backends(
    config: FleetConfig, kinds: Sequence[str] = ("detector", "predictor", "placer")
) -> dict[str, Any]:
    """Backends of ``kinds``, chosen as the drill chooses them."""
    from qnrecovery.drill import choose_backend

    drill_config = _drill_config(config)
    return {kind: choose_backend(drill_config, kind) for kind in kinds}


def _drill_config(config: FleetConfig) -> Any:
    from qnrecovery.config import DrillConfig

    return DrillConfig(
        data=config.data,
        profile=config.profile,
        backends=config.backend_names(),
        backend_options=config.backend_options,
        seed=config.seed,
        feature_window=config.feature_window,
        planner=config.planner,
    )


def load_forecasts(
    config: FleetConfig,
    backends: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> list[ServerForecast]:
    """Score and predict every server once with the configured backends.

    Parameters
    ----------
    config : FleetConfig
    backends : dict, optional
        From :func:`choose_backends`; chosen here when omitted.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    list of ServerForecast
        One per server of the telemetry, each predicted by a model trained
        on the other servers (or on other time blocks of a single server).
    """
    from qnrecovery.drill import load_servers
    from qnrecovery.orchestrator.forecast import forecast

    say = progress or (lambda stage, done, total: None)
    chosen = backends or choose_backends(config)
    servers = load_servers(_drill_config(config))
    key = _cache_key(config, chosen, servers)
    if config.forecast_cache is not None:
        cached = _read_cache(config.forecast_cache, key)
        if cached is not None:
            logger.info("Forecasts read from %s", config.forecast_cache)
            return cached
    intervals = {s.interval_s for s in servers}
    if len(intervals) != 1:
        raise DataError(
            f"Fleet servers must share one sampling interval; got {sorted(intervals)}."
        )
    step = {"done": 0}

    def tell(message: str) -> None:
        step["done"] += 1
        say(f"forecast: {message}", step["done"], 2 * len(servers))

    forecasts = forecast(
        servers,
        list(range(len(servers))),
        lambda: chosen["detector"].build(config.seed),
        lambda: chosen["predictor"].build(config.seed),
        horizon=config.planner.horizon_rows,
        window=config.feature_window,
        progress=tell,
    )
    result = [
        ServerForecast(
            s.name, forecasts[i].probabilities, forecasts[i].fault_rows, s.interval_s
        )
        for i, s in enumerate(servers)
    ]
    if config.forecast_cache is not None:
        _write_cache(config.forecast_cache, key, result)
    return result


def _cache_key(
    config: FleetConfig, chosen: dict[str, Any], servers: Sequence[Any]
) -> str:
    """What the forecasts depend on: backends, options, data, horizon, window."""
    from qnrecovery._version import __version__

    content = {
        "version": __version__,
        "backends": {
            k: [b.describe()["class"], b.options]
            for k, b in chosen.items()
            if k != "placer"
        },
        "seed": config.seed,
        "horizon": config.planner.horizon_rows,
        "window": config.feature_window,
        "data": [
            [s.name, s.source, _mtime(s.source), list(s.test.shape)] for s in servers
        ],
    }
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _read_cache(path: Path, key: str) -> list[ServerForecast] | None:
    """The cached forecasts if ``path`` holds them for ``key``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                logger.info("Forecast cache %s is for other settings", path)
                return None
            names = [str(n) for n in archive["names"]]
            return [
                ServerForecast(
                    name,
                    np.asarray(archive[f"p{i}"], dtype=float),
                    [int(r) for r in archive[f"f{i}"]],
                    float(archive["interval"][i]),
                )
                for i, name in enumerate(names)
            ]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        logger.warning("Ignoring unreadable forecast cache %s: %s", path, err)
        return None


def _write_cache(path: Path, key: str, servers: list[ServerForecast]) -> None:
    arrays: dict[str, np.ndarray] = {
        "key": np.array(key),
        "names": np.array([s.name for s in servers]),
        "interval": np.array([s.interval_s for s in servers]),
    }
    for i, s in enumerate(servers):
        arrays[f"p{i}"] = s.probabilities
        arrays[f"f{i}"] = np.asarray(s.fault_rows, dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def simulate_fleet(
    config: FleetConfig | None = None,
    *,
    servers: Sequence[ServerForecast] | None = None,
    sinks: Sequence[EventSink] = (),
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Simulate a fleet and return its report as plain data.

    Parameters
    ----------
    config : FleetConfig, optional
        Settings; defaults (1,000 components, 7 days) when omitted.
    servers : sequence of ServerForecast, optional
        Precomputed per-server forecasts; by default computed with the
        configured detector and predictor (:func:`load_forecasts`).
    sinks : sequence of EventSink, default=()
        Receive every simulated event; ``wall_time`` is the wall clock at
        the start plus the simulated time. A sink with an ``observe_series``
        method also receives every component's probabilities.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    dict
        Prediction, preparation, standby and per-tier recovery figures; see
        ``docs/fleet.md``.

    Raises
    ------
    ConfigError
        On a bad setting or a cell the placer cannot place.
    DataError
        On unusable telemetry.
    BackendNotFoundError
        If a backend named explicitly is not registered.

    Examples
    --------
    >>> from qnrecovery.fleet import FleetConfig, simulate_fleet
    >>> report = simulate_fleet(FleetConfig(components=100, days=1))  # doctest: +SKIP
    >>> report["prediction"]["predictive_recovery_rate"]  # doctest: +SKIP
    """
    config = config or FleetConfig()
    config.check()
    say = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    total_started = time.perf_counter()

    started = time.perf_counter()
    if servers is None:
        chosen = choose_backends(config)
        servers = load_forecasts(config, chosen, progress)
    else:
        chosen = choose_backends(config, ("placer",))
    if not servers:
        raise DataError("simulate_fleet needs at least one server forecast.")
    timings["forecast_s"] = time.perf_counter() - started

    interval = servers[0].interval_s
    n_rows = max(1, math.ceil(config.days * 86_400 / interval))
    if config.components * n_rows > _MAX_COMPONENT_ROWS:
        raise ConfigError(
            f"A fleet of {config.components} components over {config.days:g} days "
            f"replays {config.components * n_rows:,} telemetry rows, more than the "
            f"{_MAX_COMPONENT_ROWS:,} this simulation keeps in memory; simulate "
            "fewer components or fewer days."
        )
    components = _build_components(config, servers, n_rows)

    say("placement", 0, 0)
    started = time.perf_counter()
    hosts, placement = _place(
        config, components, lambda: chosen["placer"].build(config.seed)
    )
    timings["placement_s"] = time.perf_counter() - started
    timings["placer_wall_s"] = placement.pop("placer_wall_s")

    started = time.perf_counter()
    planner = config.planner.build()
    reviews = {
        c.name: planner.review(c.probabilities, c.fault_rows) for c in components
    }
    wall_start = time.time()
    _observe(sinks, components, interval, wall_start)
    fleet = _Fleet(config, components, hosts, interval, sinks, wall_start)
    say("simulating", 0, 0)
    fleet.run(until=n_rows * interval)
    timings["simulation_s"] = time.perf_counter() - started
    timings["total_s"] = time.perf_counter() - total_started
    described = {k: b.describe() for k, b in chosen.items()}
    return _report(config, servers, described, placement, fleet, reviews, timings)


def _observe(
    sinks: Sequence[EventSink],
    components: list[_Component],
    interval: float,
    wall_start: float,
) -> None:
    """Hand every component's probabilities to sinks that record them."""
    for sink in sinks:
        observe = getattr(sink, "observe_series", None)
        if observe is None:
            continue
        for c in components:
            times = wall_start + np.arange(len(c.probabilities)) * interval
            observe(c.name, times, c.probabilities, period_s=interval)


# ------------------------------------------------------------------ report


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(values)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(a.max()),
    }


def _tier_rows(faults: list[_Fault]) -> dict[str, Any]:
    rows = {}
    for tier, spec in TIERS.items():
        mine = [f for f in faults if f.tier == tier]
        times = [f.recovery_ms for f in mine if f.recovery_ms is not None]
        strategies: dict[str, int] = {}
        for f in mine:
            key = f.strategy or "unrecovered"
            strategies[key] = strategies.get(key, 0) + 1
        rows[tier] = {
            "faults": len(mine),
            "recovered": len(times),
            **_quantiles(times),
            "objective_ms": spec.objective_ms,
            "objective_misses": sum(1 for t in times if t > spec.objective_ms)
            + (len(mine) - len(times)),
            "strategies": strategies,
            "escalations": sum(max(0, len(f.attempts) - 1) for f in mine),
            "cold_queue_ms_max": max((f.queued_ms for f in mine), default=0.0),
        }
    return rows


def _prediction(
    faults: list[_Fault], reviews: dict[str, PredictionReview], interval: float
) -> dict[str, Any]:
    outcomes = {(name, o.fault_row): o for name, r in reviews.items() for o in r.faults}
    preparations = [p for r in reviews.values() for p in r.preparations]
    unneeded = sum(1 for p in preparations if not p.needed)
    predicted = [
        outcomes[(f.component, f.row)]
        for f in faults
        if (f.component, f.row) in outcomes and outcomes[(f.component, f.row)].predicted
    ]
    prepared_at_fault = [f for f in faults if f.level > 0 and f.recovery_ms is not None]
    n = len(faults)
    leads = [o.lead_rows * interval for o in predicted]
    return {
        "faults": n,
        "predicted": len(predicted),
        "recall": len(predicted) / n if n else None,
        "predictive_recoveries": len(prepared_at_fault),
        "predictive_recovery_rate": len(prepared_at_fault) / n if n else None,
        "served_by_prepared_standby": sum(1 for f in faults if f.prepared_standby),
        "lead_time_s_p50": float(np.median(leads)) if leads else None,
        "preparations": len(preparations),
        "preparations_needed": len(preparations) - unneeded,
        "false_preparations": unneeded,
        "false_preparation_rate": unneeded / len(preparations)
        if preparations
        else None,
    }


def _report(
    config: FleetConfig,
    servers: Sequence[ServerForecast],
    backends: dict[str, Any],
    placement: dict[str, Any],
    fleet: _Fleet,
    reviews: dict[str, PredictionReview],
    timings: dict[str, float],
) -> dict[str, Any]:
    span = fleet.env.now or 1.0
    faults = fleet.faults
    by_kind = {}
    for kind in ("hot", "warm", "cold"):
        served = [f.recovery_ms for f in faults if f.strategy == kind]
        times = [ms for ms in served if ms is not None]
        by_kind[kind] = {"count": len(served), **_quantiles(times)}
    recovered = sum(1 for f in faults if f.recovery_ms is not None)
    return {
        "schema_version": SCHEMA_VERSION,
        "config": {
            "components": config.components,
            "days": config.days,
            "seed": config.seed,
            "profile": config.profile,
            "planner": config.planner.model_dump(),
            "cell_size": config.cell_size,
            "components_per_host": config.components_per_host,
            "host_capacity": config.host_capacity,
            "cold_starts_per_host": config.cold_starts_per_host,
            "rebuild_s": config.rebuild_s,
        },
        "backends": backends,
        "servers": [s.name for s in servers],
        "interval_s": fleet.interval_s,
        "simulated_s": span,
        "placement": placement,
        "faults": len(faults),
        "recovered": recovered,
        "unrecovered": len(faults) - recovered,
        "skipped_faults": fleet.counts["skipped_faults"],
        "prediction": _prediction(faults, reviews, fleet.interval_s),
        "standbys": {
            "capacity": fleet.standby_capacity,
            "utilisation": fleet.reserved_area / span / fleet.standby_capacity
            if fleet.standby_capacity > 0
            else None,
            "prepared_share": fleet.extra_area / span / fleet.standby_capacity
            if fleet.standby_capacity > 0
            else None,
            "prepared_unit_hours": fleet.extra_area / 3600.0,
            "snapshots": fleet.counts["snapshots"],
            "extra_warm_started": fleet.counts["extra_standbys"],
            "made_hot": fleet.counts["upgrades"],
            "denied": fleet.counts["denied"],
            "released": fleet.counts["releases"],
        },
        "tiers": _tier_rows(faults),
        "strategies": by_kind,
        "timings": timings,
    }
