"""A recovery drill on a Ray cluster: replicas as actors, real faults, timings.

:func:`run_ray_drill` starts (or joins) a cluster, runs the key-value service
of :mod:`qnrecovery.ray_runtime.service` with one component per tier, keeps a
client load writing to every component, injects faults and checks every
acknowledged write against the final state. Fault kinds:

``kill``
    SIGKILL of a primary actor's process (each component in turn, so every
    tier is hit).
``node-graceful``
    Graceful removal of the node that holds a primary (Ray is told).
``node-hard``
    SIGKILL of that node's raylet and every process under it; Ray declares
    such a node dead only after its health checks time out.
``node-pause``
    SIGSTOP of that node's processes, failover, then SIGCONT: the old primary
    comes back and must not acknowledge a write.

Node faults need a local cluster; after each one a replacement node joins so
the next placements still have three hosts. In the same run the drill times
Ray's own recovery of an actor (restart after SIGKILL, with and without task
retries) for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.tiers import TIERS
from qnrecovery.ray_runtime._extra import require_ray
from qnrecovery.ray_runtime.cluster import RayCluster
from qnrecovery.ray_runtime.loop import LoopThread
from qnrecovery.ray_runtime.service import RayKVService, _ask

if TYPE_CHECKING:
    from qnrecovery.config import DrillConfig

__all__ = [
    "RAY_FAULT_KINDS",
    "format_ray_report",
    "measure_ray_restart",
    "run_ray_drill",
]

logger = logging.getLogger(__name__)

#: Fault kinds of the Ray drill, in the order they are injected.
RAY_FAULT_KINDS = ("kill", "node-graceful", "node-hard", "node-pause")

_NODE_FAULTS = ("node-graceful", "node-hard", "node-pause")


def run_ray_drill(
    config: DrillConfig | None = None,
    address: str | None = None,
    *,
    faults: Sequence[str] | None = None,
    nodes: int = 3,
    rounds: int = 1,
    ray_trials: int = 1,
    write_rate: float | None = None,
    confirm_ms: float | None = None,
    recovery_timeout_s: float = 30.0,
    measure_ray: bool = True,
    node_dead_wait_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run a drill on a Ray cluster and return its report.

    Parameters
    ----------
    config : DrillConfig, optional
        Components, tiers, seed, heartbeat, write rate and placer
        (``backends["placer"]``, ``greedy`` when not given) are taken from
        it; defaults when omitted.
    address : str, optional
        An existing cluster (``ray status`` prints its address; ``auto``
        finds a local one). ``None`` starts a local cluster of `nodes`
        simulated nodes and stops it at the end.
    faults : sequence of str, optional
        Kinds from :data:`RAY_FAULT_KINDS`; default ``kill``, ``node-graceful``
        and ``node-hard`` (only ``kill`` with `address`).
    nodes : int, default=3
        Simulated nodes of a local cluster.
    rounds : int, default=1
        How many times the whole fault list is injected.
    ray_trials : int, default=1
        Timings of Ray's own actor restart (each kind).
    write_rate : float, optional
        Client writes per second per component (default: the config's,
        capped at 100).
    confirm_ms : float, optional
        How long a suspected primary may take to answer one last ping before
        a standby is promoted (default: the lease length, at least 50 ms).
    recovery_timeout_s : float, default=30
        Longest wait for a component to answer again after a fault.
    measure_ray : bool, default=True
        Also time Ray's own actor restart after SIGKILL in the same run.
    node_dead_wait_s : float, default=0
        After a hard node loss, wait up to this long for Ray to declare the
        node dead and report how long it took (0: do not wait).
    progress : callable, optional
        Called with one line of text per step.

    Returns
    -------
    dict
        The report: ``runtime``, ``ray`` (version, address, nodes),
        ``components`` (tier, primary and standbys with their nodes, at the
        start and at the end), ``recoveries``, ``summary``, ``data_loss``,
        ``availability``, ``fencing``, ``ray_baseline``.

    Raises
    ------
    ConfigError
        If Ray is not installed (the message names the ``ray`` extra), or a
        fault kind is unknown or needs a local cluster.
    """
    from qnrecovery.config import DrillConfig

    config = config or DrillConfig()
    kinds = _check_faults(faults, address)
    if rounds < 1 or ray_trials < 1:
        raise ConfigError(
            f"rounds and ray_trials must be at least 1; got {rounds}, {ray_trials}"
        )
    ray = require_ray("qnrecovery run --runtime ray")
    say = progress or (lambda line: logger.info("%s", line))
    rate = min(config.write_rate, 100.0) if write_rate is None else write_rate
    if rate <= 0:
        raise ConfigError(f"write_rate must be > 0; got {rate}")

    started = time.monotonic()
    say("starting a local Ray cluster" if address is None else f"joining {address}")
    if address is None:
        cluster = RayCluster.local(nodes)
    else:
        cluster = RayCluster.connect(address)
    try:
        say(
            f"cluster up in {time.monotonic() - started:.1f} s: {cluster.alive_hosts()}"
        )
        with LoopThread() as loop:
            report = _drill(
                loop,
                cluster,
                config,
                kinds * rounds,
                rate,
                confirm_ms,
                recovery_timeout_s,
                node_dead_wait_s,
                say,
            )
        if measure_ray:
            say("timing Ray's own actor restart")
            host = cluster.alive_hosts()[0]
            report["ray_baseline"] = {
                f"restart_{label}_retries": [
                    measure_ray_restart(cluster, host, retries=retries)
                    for _ in range(ray_trials)
                ]
                for label, retries in (("with", True), ("without", False))
            }
    finally:
        cluster.shutdown()
    report["ray"] = {
        "version": ray.__version__,
        "address": address or "local",
        "simulated_nodes": cluster.simulated,
        "hosts": {h.name: h.node_id for h in cluster.hosts.values()},
    }
    report["elapsed_s"] = round(time.monotonic() - started, 2)
    return report


def _check_faults(faults: Sequence[str] | None, address: str | None) -> list[str]:
    if faults is None:
        return ["kill"] if address else ["kill", "node-graceful", "node-hard"]
    kinds = list(dict.fromkeys(faults))
    unknown = sorted(set(kinds) - set(RAY_FAULT_KINDS))
    if unknown or not kinds:
        raise ConfigError(
            f"unknown or no Ray fault kind(s) {unknown}; choose from "
            f"{', '.join(RAY_FAULT_KINDS)}"
        )
    if address is not None and set(kinds) & set(_NODE_FAULTS):
        raise ConfigError(
            f"node faults {sorted(set(kinds) & set(_NODE_FAULTS))} need the local "
            "cluster qnrecovery starts; with --address inject only 'kill'"
        )
    return kinds


class _Load:
    """Client writes at a fixed rate per component, with a ledger of acks."""

    def __init__(self, service: RayKVService, rate: float) -> None:
        self.service = service
        self.interval = 1.0 / rate
        self.acked: dict[str, dict[str, int]] = {c: {} for c in service.components}
        self.requests = dict.fromkeys(service.components, 0)
        self.failed = dict.fromkeys(service.components, 0)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.started = self.stopped = 0.0

    async def start(self) -> None:
        self.started = time.monotonic()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._writer(c)) for c in self.acked]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        self.stopped = time.monotonic()

    async def _writer(self, comp: str) -> None:
        i = 0
        while not self._stop.is_set():
            key = f"{comp}/{i}"
            backoff = 0.002
            while not self._stop.is_set():
                self.requests[comp] += 1
                reply = await self.service.put(comp, key, i)
                if reply.get("ok"):
                    self.acked[comp][key] = i
                    break
                self.failed[comp] += 1
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, 0.05)
            i += 1
            await asyncio.sleep(self.interval)


def _drill(
    loop: LoopThread,
    cluster: RayCluster,
    config: DrillConfig,
    kinds: list[str],
    rate: float,
    confirm_ms: float | None,
    timeout: float,
    node_dead_wait_s: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    comps = [(f"kv-{i}", config.tier_of(i)) for i in range(config.components)]
    service = RayKVService(
        cluster,
        comps,
        placer=config.backends.get("placer", "greedy"),
        heartbeat_s=config.heartbeat_ms / 1000.0,
        misses=config.heartbeat_misses,
        confirm_s=None if confirm_ms is None else confirm_ms / 1000.0,
    )
    t0 = time.monotonic()
    loop.run(service.start())
    say(f"{len(comps)} components placed and started in {time.monotonic() - t0:.1f} s")
    initial = service.describe()
    load = _Load(service, rate)
    loop.run(load.start())
    time.sleep(1.0)

    fencing: list[dict[str, Any]] = []
    ray_dead: list[dict[str, Any]] = []
    try:
        for kind in kinds:
            say(f"fault: {kind}")
            if kind == "kill":
                for name in list(service.components):
                    _kill(loop, service, name, timeout, say)
            else:
                _node_fault(
                    loop,
                    service,
                    kind,
                    timeout,
                    say,
                    fencing,
                    ray_dead,
                    node_dead_wait_s,
                )
        time.sleep(0.5)
    finally:
        loop.run(load.stop())
        loop.run(service.stop())

    loss = loop.run(_check_writes(service, load))
    return {
        "runtime": "ray",
        "schema_version": 1,
        "placer": service.placer_name,
        "heartbeat_ms": service.heartbeat_s * 1000.0,
        "lease_ms": service.lease_s * 1000.0,
        "confirm_ms": service.confirm_s * 1000.0,
        "components": {"initial": initial, "final": service.describe()},
        "placements": service.placements,
        "recoveries": [r.as_dict() for r in service.recoveries],
        "summary": _summary(service),
        "data_loss": loss,
        "availability": {
            c: {
                "requests": load.requests[c],
                "acked": len(load.acked[c]),
                "failed": load.failed[c],
            }
            for c in load.acked
        },
        "write_rate": {
            "per_component_target": rate,
            "measured_total": round(
                sum(len(a) for a in load.acked.values())
                / max(load.stopped - load.started, 1e-9),
                1,
            ),
        },
        "fencing": fencing,
        "ray_node_death": ray_dead,
        "unprotected": service.unprotected,
        "unprovoked_failovers": service.unprovoked,
        "false_alarms": len(service.false_alarms),
    }


async def _wait_recovered(
    service: RayKVService, recs: list[Any], timeout: float
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(r.recovery_ms is None for r in recs):
        if any(r.strategy == "unrecovered" for r in recs):
            break
        await asyncio.sleep(0.01)


async def _settle(service: RayKVService, timeout: float = 60.0) -> None:
    """Wait until every component has the standbys its tier asks for again."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        short = [
            c
            for c in service.components.values()
            if not c.lost and len(c.standbys) < len(TIERS[c.tier].standbys)
        ]
        if not short and not any(c.failing for c in service.components.values()):
            return
        await asyncio.sleep(0.05)
    logger.warning("standbys not restored within %.0f s", timeout)


async def _mark(service: RayKVService, names: list[str], fault: str) -> list[Any]:
    return [service.fault_injected(n, fault, time.monotonic()) for n in names]


async def _crash(service: RayKVService, name: str) -> None:
    service.components[name].primary.handle.crash.remote()


async def _after_node_loss(service: RayKVService, host: str) -> None:
    for comp in service.components.values():
        gone = {sb.name for sb in comp.standbys if sb.host == host}
        await service._drop_standbys(comp, gone, "host removed")
        if not comp.lost:
            asyncio.get_running_loop().create_task(service._reprotect(comp))


def _kill(
    loop: LoopThread,
    service: RayKVService,
    name: str,
    timeout: float,
    say: Callable[[str], None],
) -> None:
    comp = service.components[name]
    if comp.lost:
        return
    (rec,) = loop.run(_mark(service, [name], "kill"))
    rec.fault_time = time.monotonic()
    loop.run(_crash(service, name))
    loop.run(_wait_recovered(service, [rec], timeout))
    say(
        f"kill {name} ({comp.tier}): {rec.strategy} standby on "
        f"{rec.new_primary.get('host')} answered after {_fmt(rec.recovery_ms)} ms"
    )
    loop.run(_settle(service))


def _node_fault(
    loop: LoopThread,
    service: RayKVService,
    kind: str,
    timeout: float,
    say: Callable[[str], None],
    fencing: list[dict[str, Any]],
    ray_dead: list[dict[str, Any]],
    node_dead_wait_s: float,
) -> None:
    cluster = service.cluster
    alive = [c for c in service.components.values() if not c.lost]
    if not alive:
        return
    host = alive[0].primary.host
    victims = [c for c in alive if c.primary.host == host]
    old = {c.name: (c.primary, c.epoch) for c in victims}
    recs = loop.run(_mark(service, [c.name for c in victims], kind))
    at = time.monotonic()
    for rec in recs:
        rec.fault_time = at
    if kind == "node-pause":
        cluster.pause_node(host)
    else:
        cluster.remove_node(host, graceful=kind == "node-graceful")
    loop.run(_wait_recovered(service, recs, timeout))
    for rec in recs:
        say(
            f"{kind} {host}: {rec.component} ({rec.tier}) {rec.strategy} standby on "
            f"{rec.new_primary.get('host')} answered after {_fmt(rec.recovery_ms)} ms"
        )

    if kind == "node-hard" and node_dead_wait_s > 0:
        waited = cluster.wait_declared_dead(host, node_dead_wait_s)
        ray_dead.append({"host": host, "declared_dead_after_s": waited})
    if kind == "node-pause":
        cluster.resume_node(host)
        for name, (replica, epoch) in old.items():
            fencing.append(loop.run(_old_primary_refuses(replica, epoch, name)))
    else:
        new = cluster.add_node()
        cluster.wait_for_nodes()
        say(f"replacement node {new} joined")
        loop.run(_after_node_loss(service, host))
    loop.run(_settle(service))


async def _old_primary_refuses(replica: Any, epoch: int, name: str) -> dict[str, Any]:
    """After its node comes back, the old primary must refuse a write."""
    try:
        reply = await _ask(replica.handle.put.remote(f"{name}/fence", -1, epoch), 30.0)
    except Exception as err:
        reply = {"ok": False, "error": "unreachable", "detail": repr(err)}
    return {
        "component": name,
        "old_primary": replica.describe(),
        "old_epoch": epoch,
        "write_acknowledged": bool(reply.get("ok")),
        "refusal": reply.get("error"),
    }


async def _check_writes(service: RayKVService, load: _Load) -> dict[str, Any]:
    """Read every acknowledged write back from the current primaries."""
    tiers: dict[str, dict[str, Any]] = {}
    for name, acked in load.acked.items():
        comp = service.components[name]
        row = tiers.setdefault(
            comp.tier, {"acked_writes": 0, "acked_writes_lost": 0, "components": {}}
        )
        try:
            data = (await service.dump(name))["data"]
        except Exception as err:
            logger.error("%s: cannot read the final state: %r", name, err)
            data = {}
        lost = sum(1 for key, value in acked.items() if data.get(key) != value)
        row["acked_writes"] += len(acked)
        row["acked_writes_lost"] += lost
        row["components"][name] = {"acked_writes": len(acked), "lost": lost}
    return tiers


def _summary(service: RayKVService) -> dict[str, Any]:
    by_tier: dict[str, list[Any]] = {}
    by_fault: dict[str, list[Any]] = {}
    for rec in service.recoveries:
        by_tier.setdefault(rec.tier, []).append(rec)
        by_fault.setdefault(rec.fault, []).append(rec)

    def stats(recs: list[Any], objective: float | None) -> dict[str, Any]:
        times = [r.recovery_ms for r in recs if r.recovery_ms is not None]
        row: dict[str, Any] = {
            "count": len(recs),
            "recovered": len(times),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "max_ms": round(max(times), 1) if times else None,
            "detect_p50_ms": _median([r.detected_ms for r in recs]),
        }
        if objective is not None:
            row["objective_ms"] = objective
            row["met"] = (
                bool(times) and len(times) == len(recs) and max(times) <= objective
            )
        return row

    return {
        "tiers": {t: stats(r, TIERS[t].objective_ms) for t, r in by_tier.items()},
        "faults": {f: stats(r, None) for f, r in by_fault.items()},
    }


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), 1) if kept else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def measure_ray_restart(
    cluster: RayCluster, host: str, *, retries: bool, timeout: float = 60.0
) -> dict[str, Any]:
    """Time Ray's own recovery of a SIGKILLed actor.

    An actor with ``max_restarts=-1`` holds one key; its process is killed
    and the time until a call succeeds again is measured (with
    ``max_task_retries=-1`` the call waits for the restart; without it the
    caller retries every 10 ms).

    Parameters
    ----------
    cluster : RayCluster
        A connected cluster.
    host : str
        Host to start the actor on.
    retries : bool
        Whether Ray retries the call by itself.
    timeout : float, default=60
        Longest wait.

    Returns
    -------
    dict
        ``{ms, state_kept, retries}``; ``ms`` is None when the actor did not
        answer within `timeout`.
    """
    import ray

    from qnrecovery.ray_runtime.store import KVStore

    options = {
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1 if retries else 0,
        **cluster.placement(host),
    }
    actor: Any = (
        ray.remote(KVStore).options(**options).remote("probe", "primary", 1, host)
    )
    try:
        ray.get(actor.put.remote("k", 1, 1), timeout=timeout)
        pid = ray.get(actor.where.remote(), timeout=timeout)["pid"]
        start = time.monotonic()
        if cluster.simulated:
            # From outside: a retried crash() would kill every restart too.
            os.kill(pid, signal.SIGKILL)
        elif retries:
            return {"ms": None, "state_kept": None, "retries": retries}
        else:
            actor.crash.remote()
        elapsed = None
        while time.monotonic() - start < timeout:
            with contextlib.suppress(Exception):
                ray.get(actor.ping.remote(), timeout=timeout)
                elapsed = (time.monotonic() - start) * 1000.0
                break
            time.sleep(0.01)
        kept = None
        if elapsed is not None:
            kept = ray.get(actor.get.remote("k", 1), timeout=timeout).get("value") == 1
        return {"ms": elapsed, "state_kept": kept, "retries": retries}
    finally:
        with contextlib.suppress(Exception):
            ray.kill(actor)


def format_ray_report(report: dict[str, Any]) -> str:
    """A plain-text summary of a :func:`run_ray_drill` report for a terminal.

    One line per component (tier, primary and standbys with their hosts and
    node-id prefixes) at the start, one per tier (faults, recovery p50 / max,
    the objective and whether every fault met it, acknowledged writes and
    those lost), one per recovery, the suspicions that were false alarms or
    ended in a failover without an injected fault, and where each
    component's primary was at the end.
    """
    lines = [
        f"runtime: ray {report['ray']['version']} ({report['ray']['address']}), "
        f"placer {report['placer']}, heartbeat {report['heartbeat_ms']:.0f} ms, "
        f"lease {report['lease_ms']:.0f} ms"
    ]

    def where(replica: dict[str, Any]) -> str:
        return f"{replica['host']}[{(replica.get('node_id') or '?')[:8]}]"

    for name, comp in report["components"]["initial"].items():
        standbys = ", ".join(f"{sb['kind']} {where(sb)}" for sb in comp["standbys"])
        lines.append(
            f"  {name} ({comp['tier']}): primary {where(comp['primary'])}; "
            f"standbys {standbys or 'none'}"
        )
    lines.append(
        f"  {'tier':<15} {'faults':>6} {'p50 ms':>8} {'max ms':>8} {'RTO':>6} "
        f"{'met':>4} {'acked':>6} {'lost':>5}"
    )
    for tier, row in report["summary"]["tiers"].items():
        loss = report["data_loss"].get(tier, {})
        lines.append(
            f"  {tier:<15} {row['count']:>6} {_fmt(row['p50_ms']):>8} "
            f"{_fmt(row['max_ms']):>8} {row['objective_ms']:>6.0f} "
            f"{'yes' if row['met'] else 'no':>4} "
            f"{loss.get('acked_writes', 0):>6} {loss.get('acked_writes_lost', 0):>5}"
        )
    for rec in report["recoveries"]:
        lines.append(
            f"  {rec['fault']} {rec['component']}: {rec['strategy']} standby on "
            f"{rec['new_primary'].get('host', '-')} after "
            f"{_fmt(rec['recovery_ms'])} ms (detected by {rec['detected_by']})"
        )
    lines.append(
        f"  suspicions: {report['false_alarms']} cleared by the last ping, "
        f"{len(report['unprovoked_failovers'])} ended in a failover without an "
        "injected fault"
    )
    for name, comp in report["components"]["final"].items():
        lines.append(
            f"  {name} at the end: primary {where(comp['primary'])}, "
            f"epoch {comp['epoch']}"
        )
    return "\n".join(lines)
