"""The replicated key-value service on Ray, and its controller.

:class:`RayKVService` runs in the driver. It places each component's primary
and standbys on hosts (the placer's assignment, mapped to Ray nodes by
:class:`~qnrecovery.ray_runtime.cluster.RayCluster`), starts them as actors
of :class:`~qnrecovery.ray_runtime.store.KVStore`, routes client requests to
the current primary, and recovers a component whose primary fails.

Detection and fencing do not wait for Ray:

- every ``heartbeat_s`` the controller pings each primary with a lease that
  runs until ``now + heartbeat_s * misses`` (``time.time()`` seconds); a
  primary that answered none of the pings sent to it within one lease is
  suspected, and Ray's ``ActorDiedError`` (a process that exited) makes it
  failed at once;
- a suspected primary gets one last ping; if that goes unanswered it is
  failed over, but only after the last lease it may hold ran out (plus
  ``clock_skew_s``), so it cannot acknowledge a write after its standby took
  over, even when its node comes back;
- the promoted standby gets the next epoch; the router accepts a reply only
  from a replica of the component's current epoch, and a hot standby refuses
  records of an older epoch, which fences the old primary for good.

Hot standbys apply each write before the primary acknowledges it; warm
standbys receive the log every 50 ms; cold standbys are not running: one is
started on its host from the newest snapshot of the recovery-state cache,
which the controller refreshes every ``snapshot_interval_s`` from each
primary (an actor that Ray restarts comes back empty, so state lives here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from qnrecovery.exceptions import ConfigError, DataError, RuntimeFailure
from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
from qnrecovery.orchestrator.events import EventSink, RecoveryEvent, emit
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.ray_runtime.cluster import RayCluster
from qnrecovery.runtime.worker import verify_snapshot

__all__ = ["Component", "RayKVService", "Recovery", "Replica"]

logger = logging.getLogger(__name__)


@dataclass
class Replica:
    """One replica of a component: where it runs and its actor handle."""

    name: str
    kind: str
    host: str
    handle: Any = None
    node_id: str = ""
    pid: int = 0
    attached: int = -1

    def describe(self) -> dict[str, Any]:
        """``{name, kind, host, node_id}`` for reports."""
        return {
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "node_id": self.node_id,
            "running": self.handle is not None,
        }


@dataclass
class Recovery:
    """One failover, timed from the fault to the new primary's first answer."""

    component: str
    tier: str
    fault: str
    fault_time: float
    fault_epoch: int
    detected_ms: float | None = None
    promoted_ms: float | None = None
    recovery_ms: float | None = None
    strategy: str | None = None
    escalations: list[str] = field(default_factory=list)
    old_primary: dict[str, Any] = field(default_factory=dict)
    new_primary: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    detected_by: str = ""
    ray_said_dead: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON types."""
        return {
            "component": self.component,
            "tier": self.tier,
            "fault": self.fault,
            "strategy": self.strategy,
            "detected_by": self.detected_by,
            "detect_ms": self.detected_ms,
            "promote_ms": self.promoted_ms,
            "recovery_ms": self.recovery_ms,
            "objective_ms": TIERS[self.tier].objective_ms,
            "escalations": list(self.escalations),
            "old_primary": self.old_primary,
            "new_primary": self.new_primary,
            "epoch": self.epoch,
            "ray_reported_death": self.ray_said_dead,
        }


@dataclass
class Component:
    """A component's replicas, epoch, lease and recovery-state cache."""

    name: str
    tier: str
    primary: Replica
    standbys: list[Replica] = field(default_factory=list)
    epoch: int = 1
    granted: float = 0.0
    failing: bool = False
    cache: dict[str, Any] | None = None
    pending: list[Recovery] = field(default_factory=list)
    serial: int = 0
    lost: bool = False
    top_epoch: int = 1
    changed: asyncio.Event | None = None


class RayKVService:
    """Components of the key-value service as Ray actors, and their controller.

    Parameters
    ----------
    cluster : RayCluster
        Where replicas run.
    components : list of (str, str)
        ``(name, tier)`` per component.
    placer : str, default="greedy"
        Registered placer backend that puts standbys on hosts.
    heartbeat_s : float, default=0.01
        Period of the controller's pings.
    misses : int, default=3
        Lease length in heartbeat periods; a primary that answered none of
        the pings sent to it within one lease is suspected.
    hot_timeout : float, default=1.0
        Seconds a primary waits for its hot standby before refusing writes.
    request_timeout : float, default=0.5
        Seconds the router waits for a primary's reply. A request that meets
        a failover waits up to as long again for the new primary, and is sent
        at most twice.
    snapshot_interval_s : float, default=0.5
        Period of the recovery-state cache refresh.
    clock_skew_s : float, default=0.005
        Extra wait after a lease's end before promotion (clocks of different
        hosts may differ by this much).
    confirm_s : float, optional
        How long a suspected primary may take to answer one last ping, sent
        as soon as it is suspected (default: the lease length, at least
        50 ms). A hot standby is promoted when that ping went unanswered and
        the primary's lease has run out. An answer makes the suspicion a
        false alarm. Before a warm or cold standby (which loses writes)
        replaces a primary that is only suspected, the primary gets
        ``max(0.3 s, 5 * confirm_s)``.
    sinks : sequence of EventSink, default=()
        Receive a :class:`RecoveryEvent` per recovery.
    """

    def __init__(
        self,
        cluster: RayCluster,
        components: list[tuple[str, str]],
        *,
        placer: str = "greedy",
        heartbeat_s: float = 0.01,
        misses: int = 3,
        hot_timeout: float = 1.0,
        request_timeout: float = 0.5,
        snapshot_interval_s: float = 0.5,
        clock_skew_s: float = 0.005,
        confirm_s: float | None = None,
        sinks: tuple[EventSink, ...] = (),
    ) -> None:
        if not components:
            raise ConfigError("RayKVService needs at least one component")
        for name, tier in components:
            if tier not in TIERS:
                raise ConfigError(
                    f"component {name!r} has unknown tier {tier!r}; expected one "
                    f"of {', '.join(TIERS)}"
                )
        if heartbeat_s <= 0 or misses < 1:
            raise ConfigError(
                f"heartbeat_s must be > 0 and misses >= 1; got {heartbeat_s}, {misses}"
            )
        self.cluster = cluster
        self.spec = list(components)
        self.placer_name = placer
        self.heartbeat_s = heartbeat_s
        self.lease_s = heartbeat_s * misses
        self.hot_timeout = hot_timeout
        self.request_timeout = request_timeout
        self.snapshot_interval_s = snapshot_interval_s
        self.clock_skew_s = clock_skew_s
        self.sinks = sinks
        self.components: dict[str, Component] = {}
        self.recoveries: list[Recovery] = []
        self.placements: list[dict[str, Any]] = []
        self.unprotected: list[str] = []
        self.unprovoked: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._failovers: dict[str, asyncio.Task[None]] = {}
        self._actor: Any = None
        self._running = False
        self._repairing: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._count = 0
        self.standby_timeout = 1.0
        self.standby_misses = 3
        self.promote_timeout = 5.0
        self.confirm_s = max(self.lease_s, 0.05) if confirm_s is None else confirm_s
        self.lossy_confirm_s = max(0.3, 5 * self.confirm_s)
        self.false_alarms: list[str] = []

    # -- start and stop ----------------------------------------------------------

    async def start(self) -> None:
        """Place and start every replica, attach standbys, start the monitors."""
        import ray

        from qnrecovery.ray_runtime.store import KVStore

        self._actor = ray.remote(KVStore)
        hosts = self.cluster.alive_hosts()
        primaries = {
            name: hosts[i % len(hosts)] for i, (name, _) in enumerate(self.spec)
        }
        assignment = self._place(
            [(name, tier, primaries[name]) for name, tier in self.spec], hosts
        )
        for name, tier in self.spec:
            primary = self._replica(name, "primary", primaries[name], epoch=1)
            comp = Component(name, tier, primary)
            for kind in TIERS[tier].standbys:
                host = assignment.get(f"{name}/{kind.value}")
                if host is None:
                    self.unprotected.append(f"{name}/{kind.value}")
                    continue
                comp.standbys.append(self._standby(name, kind.value, host, 1))
            self.components[name] = comp

        await asyncio.gather(*(self._locate(r) for r in self._all_replicas()))
        for comp in self.components.values():
            comp.granted = time.time() + self.lease_s
            await _ask(comp.primary.handle.ping.remote(comp.granted), 30.0)
            await self._attach_all(comp)
            await self._refresh_cache(comp)
        self._running = True
        loop = asyncio.get_running_loop()
        for comp in self.components.values():
            self._tasks.append(loop.create_task(self._monitor(comp)))
        self._tasks.append(loop.create_task(self._cache_loop()))
        self._tasks.append(loop.create_task(self._standby_loop()))

    async def stop(self) -> None:
        """Stop the monitors (replicas stay until the cluster goes)."""
        self._running = False
        for task in [*self._tasks, *self._failovers.values()]:
            task.cancel()
        for task in [*self._tasks, *self._failovers.values()]:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()

    def _all_replicas(self) -> list[Replica]:
        return [
            r
            for c in self.components.values()
            for r in (c.primary, *c.standbys)
            if r.handle is not None
        ]

    def _replica(
        self, comp: str, role: str, host: str, *, epoch: int, label: str | None = None
    ) -> Replica:
        """Start a replica actor; `label` names its standby kind when that is
        not its role (a cold standby runs as a warm one restored from the cache)."""
        self._count += 1
        name = f"{comp}@{host}#{label or role}-{self._count}"
        options = {"num_cpus": 0, "max_restarts": 0, **self.cluster.placement(host)}
        handle = self._actor.options(**options).remote(
            name, role, epoch, host, hot_timeout=self.hot_timeout
        )
        return Replica(name, role, host, handle)

    def _standby(self, comp: str, kind: str, host: str, epoch: int) -> Replica:
        if kind == StandbyKind.COLD.value:
            # Not running: its node is where it will be started from the cache.
            node_id = self.cluster.hosts[host].node_id
            return Replica(f"{comp}@{host}#cold", kind, host, node_id=node_id)
        return self._replica(comp, kind, host, epoch=epoch)

    async def _locate(self, replica: Replica, timeout: float = 120.0) -> None:
        where = await _ask(replica.handle.where.remote(), timeout)
        replica.node_id, replica.pid = where["node_id"], where["pid"]

    async def _attach(self, comp: Component, sb: Replica) -> bool:
        """Attach `sb` to the current primary; record the primary's epoch."""
        try:
            reply = await _ask(
                comp.primary.handle.attach.remote(sb.kind, sb.handle, sb.name), 10.0
            )
        except Exception as err:
            reply = {"ok": False, "detail": repr(err)}
        if not reply.get("ok"):
            logger.warning("%s: cannot attach %s: %s", comp.name, sb.name, reply)
            return False
        sb.attached = int(reply["epoch"])
        return True

    async def _attach_all(self, comp: Component) -> None:
        """Attach every running standby not yet attached to the current primary."""
        for sb in list(comp.standbys):
            if sb.handle is None or sb.attached == comp.epoch:
                continue
            if not await self._attach(comp, sb) and sb in comp.standbys:
                comp.standbys.remove(sb)

    def _eligible(self, comp: Component) -> list[Replica]:
        """Standbys that hold what the failed primary acknowledged.

        A running standby qualifies only if it was attached to the primary of
        the current epoch; one attached to an older primary (or not yet
        attached) may miss acknowledged writes. A cold one starts from the
        cache.
        """
        return [
            sb for sb in comp.standbys if sb.handle is None or sb.attached == comp.epoch
        ]

    # -- placement -------------------------------------------------------------

    def _place(
        self, services: list[tuple[str, str, str]], hosts: list[str], kinds: Any = None
    ) -> dict[str, str]:
        """Run the placer; `kinds` maps a tier to the standby kinds to place."""
        from qnrecovery.registry import backend

        problem = PlacementProblem(
            services=tuple(ServiceSpec(n, t, 1.0, h) for n, t, h in services),
            hosts=tuple(HostSpec(h, 4.0 * len(self.spec) + 4, h) for h in hosts),
            standbys=kinds,
        )
        solution = backend("placer", self.placer_name).place(problem)
        self.placements.append(
            {
                "placer": self.placer_name,
                "feasible": bool(solution.feasible),
                "assignment": dict(solution.assignment),
                "hosts": list(hosts),
            }
        )
        if not solution.feasible:
            logger.warning(
                "placer %s found no feasible placement on hosts %s: %s",
                self.placer_name,
                hosts,
                solution.violations,
            )
        return dict(solution.assignment) if solution.feasible else {}

    # -- router ----------------------------------------------------------------

    async def put(self, comp_name: str, key: str, value: Any) -> dict[str, Any]:
        """Write through the current primary; ``ok`` only for a current-epoch ack."""
        return await self._request(comp_name, "put", key, value)

    async def get(self, comp_name: str, key: str) -> dict[str, Any]:
        """Read through the current primary, fenced by epoch like :meth:`put`."""
        return await self._request(comp_name, "get", key)

    async def _request(self, comp_name: str, op: str, *args: Any) -> dict[str, Any]:
        """Send one request to the current primary.

        A request that finds the component failing over waits for the new
        primary; one whose primary dies, or is replaced while the request
        waits for its answer, is sent once more, to the new primary. A write
        is a put of a fixed value, so sending it twice is harmless. An answer
        from a primary that was replaced after it answered is a
        ``stale-epoch`` error, left to the client to retry.
        """
        import ray

        comp = self.components[comp_name]
        detail = "no attempt"
        for _ in range(2):
            await self._await_failover(comp)
            if comp.failing or comp.lost:
                why = "no replica left" if comp.lost else "failing over"
                return {"ok": False, "error": "unavailable", "detail": why}
            epoch, primary = comp.epoch, comp.primary
            if comp.changed is None:
                comp.changed = asyncio.Event()
            changed = comp.changed
            method = getattr(primary.handle, op)
            try:
                reply = await _ask_unless(
                    method.remote(*args, epoch), self.request_timeout, changed
                )
            except RouteChanged as err:
                detail = str(err)
                continue
            except ray.exceptions.ActorDiedError as err:
                self._suspect(comp, primary, confirmed=True, why="client: actor died")
                detail = repr(err)
                continue
            except Exception as err:
                return {"ok": False, "error": "unavailable", "detail": repr(err)}
            if reply.get("ok") and reply.get("epoch") != comp.epoch:
                return {
                    "ok": False,
                    "error": "stale-epoch",
                    "detail": f"reply of epoch {reply.get('epoch')}; "
                    f"current {comp.epoch}",
                }
            if reply.get("ok") and comp.pending:
                self._answered(comp, reply)
            return reply
        return {"ok": False, "error": "unavailable", "detail": detail}

    async def _await_failover(self, comp: Component) -> None:
        """Hold a request while `comp` fails over, for at most ``request_timeout``.

        A request held here goes to the new primary as soon as it is promoted,
        instead of failing at once and leaving the client to guess when to
        retry.
        """
        task = self._failovers.get(comp.name)
        if not comp.failing or comp.lost or task is None or task.done():
            return
        await asyncio.wait({task}, timeout=self.request_timeout)

    def _answered(self, comp: Component, reply: dict[str, Any]) -> None:
        now = time.monotonic()
        for rec in [r for r in comp.pending if reply["epoch"] > r.fault_epoch]:
            rec.recovery_ms = (now - rec.fault_time) * 1000.0
            comp.pending.remove(rec)
            kind = "recovered"
            if rec.recovery_ms > TIERS[comp.tier].objective_ms:
                kind = "objective-missed"
            emit(
                self.sinks,
                RecoveryEvent(
                    kind,  # type: ignore[arg-type]
                    comp.name,
                    comp.tier,
                    duration_s=rec.recovery_ms / 1000.0,
                    reason=rec.strategy or "",
                    detail={"fault": rec.fault, "runtime": "ray"},
                ),
            )

    # -- faults and detection ------------------------------------------------------

    def fault_injected(self, comp_name: str, fault: str, at: float) -> Recovery:
        """Record that `fault` hit `comp_name`'s primary at monotonic time `at`."""
        comp = self.components[comp_name]
        rec = Recovery(comp.name, comp.tier, fault, at, comp.epoch)
        rec.old_primary = comp.primary.describe()
        comp.pending.append(rec)
        self.recoveries.append(rec)
        return rec

    async def _monitor(self, comp: Component) -> None:
        """Ping the primary with a lease every period; suspect on silence."""
        import ray

        # When the newest answered ping was sent, to this primary (serial).
        answered_sent, watched = time.monotonic(), comp.serial
        while self._running and not comp.lost:
            if comp.failing:
                await asyncio.sleep(self.heartbeat_s)
                answered_sent = time.monotonic()
                continue
            if comp.serial != watched:
                answered_sent, watched = time.monotonic(), comp.serial
            primary, serial = comp.primary, comp.serial
            lease = time.time() + self.lease_s
            comp.granted = max(comp.granted, lease)
            ref = primary.handle.ping.remote(lease)
            sent = time.monotonic()
            # Suspect when nothing sent in the last lease was answered; the
            # newest ping gets at least one period.
            timeout = max(answered_sent + self.lease_s - sent, self.heartbeat_s)
            try:
                reply = await _ask(ref, timeout)
            except ray.exceptions.ActorDiedError:
                self._suspect(comp, primary, confirmed=True, why="ray: actor died")
                continue
            except Exception as err:
                now = time.monotonic()
                if serial != comp.serial:
                    continue
                if _answered_ok(ref):
                    # A late answer that a stalled driver did not look at yet
                    # is not a miss.
                    answered_sent = sent
                elif now - sent > 2 * self.lease_s:
                    # The driver itself stalled: start a fresh window.
                    answered_sent = now
                elif isinstance(err, TimeoutError) or now >= answered_sent + (
                    self.lease_s
                ):
                    self._suspect(comp, primary, confirmed=False, why="heartbeat")
                    continue
                # A miss within the lease (a ping that failed): next period.
                await asyncio.sleep(max(0.0, sent + self.heartbeat_s - now))
                continue
            if reply.get("fenced"):
                self._suspect(comp, primary, confirmed=True, why="primary fenced")
                continue
            if reply.get("failing") and comp.name not in self._repairing:
                self._repairing.add(comp.name)
                task = asyncio.get_running_loop().create_task(
                    self._hot_failing(comp, set(reply["failing"]))
                )
                task.add_done_callback(lambda _: self._repairing.discard(comp.name))
            # One ping per period, whatever the round trip took.
            answered_sent = sent
            await asyncio.sleep(max(0.0, sent + self.heartbeat_s - time.monotonic()))

    def _suspect(
        self, comp: Component, primary: Replica, *, confirmed: bool, why: str
    ) -> None:
        if comp.failing or comp.lost or primary is not comp.primary:
            return
        comp.failing = True
        task = asyncio.get_running_loop().create_task(
            self._failover(comp, confirmed=confirmed, why=why)
        )
        self._failovers[comp.name] = task

    async def _failover(self, comp: Component, *, confirmed: bool, why: str) -> None:
        """Promote the first standby that answers, in the tier's order."""
        t_detect = time.monotonic()
        recs = [r for r in comp.pending if r.strategy is None]
        for rec in recs:
            rec.detected_ms = (t_detect - rec.fault_time) * 1000.0
            rec.detected_by, rec.ray_said_dead = why, confirmed
        if not confirmed:
            # Give the primary one more chance to answer (a loaded host is
            # slow, not dead): an answer is a false alarm, and its lease is
            # renewed before the held requests go to it again. The last ping
            # grants no lease, so one left unanswered does not lengthen the
            # wait for the lease the primary may still hold until
            # comp.granted: once that has run out it acks nothing.
            if await self._answers(
                comp.primary, self.confirm_s
            ) and await self._still_alive(comp, [], self.confirm_s):
                self.false_alarms.append(f"{comp.name}: {why}")
                comp.failing = False
                return
            wait = comp.granted + self.clock_skew_s - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        if not recs:
            self.unprovoked.append(f"{comp.name}: {why}")

        old = comp.primary
        attempted: list[Replica] = []
        waited = confirmed
        for sb in self._eligible(comp):
            # A warm or cold standby loses writes: before using one on a mere
            # suspicion, give the primary a longer last chance.
            if (
                not waited
                and sb.kind != StandbyKind.HOT.value
                and await self._still_alive(comp, attempted, self.lossy_confirm_s)
            ):
                self.false_alarms.append(f"{comp.name}: {why} (lossy wait)")
                comp.failing = False
                return
            waited = waited or sb.kind != StandbyKind.HOT.value
            comp.standbys.remove(sb)
            attempted.append(sb)
            # Every attempt takes a fresh epoch: a standby whose promotion timed
            # out here may still become primary, and must not share an epoch.
            comp.top_epoch += 1
            epoch = comp.top_epoch
            try:
                promoted = await self._promote(comp, sb, epoch)
            except Exception as err:
                logger.warning("%s: %s standby failed: %r", comp.name, sb.kind, err)
                for rec in recs:
                    rec.escalations.append(f"{sb.kind}: {err!r}")
                continue
            comp.primary, comp.epoch = promoted, epoch
            comp.serial += 1
            comp.failing = False
            if comp.changed is not None:
                # Requests still waiting on the old primary give up and retry.
                comp.changed.set()
            comp.changed = asyncio.Event()
            # Faults injected while this failover ran are recovered by it too.
            recs = [r for r in comp.pending if r.strategy is None]
            for rec in recs:
                if rec.detected_ms is None:
                    rec.detected_ms = max(0.0, t_detect - rec.fault_time) * 1000.0
                    rec.detected_by = f"{why} (already failing over)"
                rec.strategy, rec.epoch = sb.kind, epoch
                rec.promoted_ms = (time.monotonic() - rec.fault_time) * 1000.0
                rec.new_primary = promoted.describe()
            logger.info(
                "%s: %s on %s took over from %s (epoch %d, %s)",
                comp.name,
                sb.kind,
                promoted.host,
                old.host,
                epoch,
                why,
            )
            asyncio.get_running_loop().create_task(self._reprotect(comp))
            return
        if not confirmed and await self._still_alive(comp, attempted):
            # No standby could take over, but the primary answers again: keep it.
            comp.failing = False
            if attempted:
                logger.warning(
                    "%s: no standby took over; the primary answers again", comp.name
                )
            else:
                # No standby was ready (new ones are still being attached):
                # nothing was tried, and a slow primary is no news.
                logger.info(
                    "%s: suspected while no standby was ready; the primary "
                    "answers again",
                    comp.name,
                )
            asyncio.get_running_loop().create_task(self._reprotect(comp))
            return
        if not confirmed:
            # Maybe slow rather than dead: keep it; the monitor looks again, and
            # Ray reports the actor dead at the latest when it gives up the node.
            comp.failing = False
            return
        if comp.cache is not None and await self._from_cache(comp, old, recs, why):
            return
        comp.failing, comp.lost = False, True
        for rec in recs:
            rec.strategy = "unrecovered"
        emit(self.sinks, RecoveryEvent("unrecovered", comp.name, comp.tier, reason=why))
        logger.error("%s: no standby could take over (%s)", comp.name, why)

    async def _from_cache(
        self, comp: Component, old: Replica, recs: list[Recovery], why: str
    ) -> bool:
        """Last resort for a primary known dead with no eligible standby:
        start a replica from the cached snapshot elsewhere.

        Writes acknowledged after that snapshot are lost, and the report
        counts them.
        """
        hosts = [h for h in self.cluster.alive_hosts() if h != old.host]
        if not hosts:
            return False
        cold = Replica(f"{comp.name}@{hosts[0]}#cache", "cold", hosts[0])
        comp.top_epoch += 1
        epoch = comp.top_epoch
        try:
            promoted = await self._promote(comp, cold, epoch)
        except Exception as err:
            logger.error("%s: restore from the cache failed: %r", comp.name, err)
            return False
        promoted.kind = "cache"
        comp.primary, comp.epoch = promoted, epoch
        comp.serial += 1
        comp.failing = False
        if comp.changed is not None:
            comp.changed.set()
        comp.changed = asyncio.Event()
        for rec in recs:
            rec.strategy, rec.epoch = "cache", epoch
            rec.promoted_ms = (time.monotonic() - rec.fault_time) * 1000.0
            rec.new_primary = promoted.describe()
        logger.warning(
            "%s: no standby could take over (%s); restored from the cache on %s",
            comp.name,
            why,
            promoted.host,
        )
        asyncio.get_running_loop().create_task(self._reprotect(comp))
        return True

    async def _answers(self, replica: Replica, timeout: float) -> bool:
        """Whether `replica` answers a ping (no lease) unfenced within `timeout`."""
        try:
            reply = await _ask(replica.handle.ping.remote(), timeout)
        except Exception:
            return False
        return bool(reply.get("ok")) and not reply.get("fenced")

    async def _still_alive(
        self, comp: Component, attempted: list[Replica], timeout: float = 1.0
    ) -> bool:
        """Detach the standbys tried in vain, then renew the primary's lease.

        ``False`` only once the lease this ping may have granted has run out:
        a ping that timed out here can still reach the primary later.
        """
        for sb in attempted:
            with contextlib.suppress(Exception):
                await _ask(comp.primary.handle.detach.remote(sb.name), 1.0)
        lease = time.time() + self.lease_s
        comp.granted = max(comp.granted, lease)
        try:
            reply = await _ask(comp.primary.handle.ping.remote(lease), timeout)
        except Exception:
            reply = {}
        if reply.get("ok") and not reply.get("fenced"):
            return True
        wait = comp.granted + self.clock_skew_s - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return False

    async def _promote(self, comp: Component, sb: Replica, epoch: int) -> Replica:
        timeout = self.promote_timeout
        if sb.kind == StandbyKind.COLD.value:
            snap = comp.cache
            if snap is None:
                raise RuntimeFailure(f"{comp.name}: no snapshot in the cache")
            sb = self._replica(comp.name, "warm", sb.host, epoch=0, label="cold")
            sb.kind = "cold"
            timeout = 60.0
            reply = await _ask(sb.handle.install.remote(verify_snapshot(snap)), timeout)
            if not reply.get("ok"):
                raise RuntimeFailure(f"cold start refused the snapshot: {reply}")
        elif sb.kind == StandbyKind.WARM.value and comp.cache is not None:
            state = await _ask(sb.handle.ping.remote(), timeout)
            if state["seq"] < comp.cache["seq"]:
                await _ask(sb.handle.install.remote(comp.cache), timeout)
        lease = time.time() + self.lease_s
        reply = await _ask(sb.handle.promote.remote(epoch, lease), timeout)
        if not reply.get("ok"):
            raise RuntimeFailure(f"promote refused: {reply}")
        comp.granted = lease
        if not sb.node_id:
            await self._locate(sb, timeout)
        return sb

    async def _drop_standbys(self, comp: Component, names: set[str], why: str) -> None:
        """Forget standbys that failed, tell the primary, place replacements."""
        dropped = [sb for sb in comp.standbys if sb.name in names]
        if not dropped:
            return
        for sb in dropped:
            comp.standbys.remove(sb)
            logger.warning(
                "%s: dropped %s standby %s (%s)", comp.name, sb.kind, sb.name, why
            )
        for sb in dropped:
            with contextlib.suppress(Exception):
                await _ask(comp.primary.handle.detach.remote(sb.name), self.lease_s * 4)
        asyncio.get_running_loop().create_task(self._reprotect(comp))

    async def _standby_loop(self) -> None:
        """Check running standbys every 0.2 s; drop one after three silent checks.

        A standby is not urgent, so a loaded machine gets a second chance; an
        actor that Ray reports dead is dropped at once.
        """
        import ray

        misses: dict[str, int] = {}
        while self._running:
            await asyncio.sleep(0.2)
            for comp in list(self.components.values()):
                if comp.failing or comp.lost:
                    continue
                for sb in list(comp.standbys):
                    if sb.handle is None:
                        if not self.cluster.hosts[sb.host].alive:
                            await self._drop_standbys(comp, {sb.name}, "host gone")
                        continue
                    try:
                        await _ask(sb.handle.ping.remote(), self.standby_timeout)
                    except ray.exceptions.ActorDiedError:
                        misses[sb.name] = self.standby_misses
                    except Exception:
                        misses[sb.name] = misses.get(sb.name, 0) + 1
                    else:
                        misses.pop(sb.name, None)
                        continue
                    if misses[sb.name] >= self.standby_misses:
                        await self._drop_standbys(comp, {sb.name}, "no answer")

    async def _hot_failing(self, comp: Component, names: set[str]) -> None:
        """The primary lost touch with hot standbys: re-attach or drop each.

        One already dropped, whose detach did not reach the primary, is
        detached again.
        """
        for name in names - {sb.name for sb in comp.standbys}:
            with contextlib.suppress(Exception):
                await _ask(comp.primary.handle.detach.remote(name), self.lease_s * 4)
        for sb in [s for s in comp.standbys if s.name in names]:
            try:
                await _ask(sb.handle.ping.remote(), self.standby_timeout)
                if await self._attach(comp, sb):
                    continue
            except Exception as err:
                logger.warning("%s: hot standby %s: %r", comp.name, sb.name, err)
            await self._drop_standbys(comp, {sb.name}, "missed a hot record")

    async def _reprotect(self, comp: Component) -> None:
        """Give `comp` the standbys its tier asks for again, placed anew."""
        # Placing and starting actors holds the event loop for a while: let
        # the requests held during a failover reach the new primary first.
        await asyncio.sleep(self.heartbeat_s)
        if comp.name not in self._locks:
            self._locks[comp.name] = asyncio.Lock()
        async with self._locks[comp.name]:
            await self._reprotect_locked(comp)

    async def _reprotect_locked(self, comp: Component) -> None:
        if comp.failing or comp.lost or not self._running:
            return
        have = {sb.kind for sb in comp.standbys}
        missing = tuple(k for k in TIERS[comp.tier].standbys if k.value not in have)
        used = {sb.host for sb in comp.standbys}
        hosts = [h for h in self.cluster.alive_hosts() if h not in used]
        if comp.primary.host not in hosts:
            hosts.append(comp.primary.host)
        if missing and len(hosts) > 1:
            assignment = self._place(
                [(comp.name, comp.tier, comp.primary.host)], hosts, {comp.tier: missing}
            )
            for kind in missing:
                host = assignment.get(f"{comp.name}/{kind.value}")
                if host is None:
                    self.unprotected.append(f"{comp.name}/{kind.value}")
                    continue
                sb = self._standby(comp.name, kind.value, host, comp.epoch)
                if sb.handle is not None:
                    try:
                        await self._locate(sb)
                    except Exception as err:
                        logger.warning("%s: new standby failed: %r", comp.name, err)
                        continue
                    if comp.failing or not await self._attach(comp, sb):
                        continue
                comp.standbys.append(sb)
        await self._attach_all(comp)
        order = [k.value for k in TIERS[comp.tier].standbys]
        comp.standbys.sort(key=lambda sb: order.index(sb.kind))
        await self._refresh_cache(comp)

    # -- recovery-state cache ------------------------------------------------------

    async def _cache_loop(self) -> None:
        while self._running:
            await asyncio.sleep(self.snapshot_interval_s)
            for comp in list(self.components.values()):
                if not comp.failing:
                    await self._refresh_cache(comp)

    async def _refresh_cache(self, comp: Component) -> None:
        try:
            snap = await _ask(comp.primary.handle.snapshot.remote(), 1.0)
            verify_snapshot(snap)
        except (DataError, Exception) as err:
            logger.debug("%s: snapshot skipped: %r", comp.name, err)
            return
        if comp.cache is None or snap["seq"] >= comp.cache["seq"]:
            comp.cache = snap

    # -- reports -------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Every component's tier, epoch, primary and standbys with their nodes."""
        return {
            name: {
                "tier": comp.tier,
                "epoch": comp.epoch,
                "primary": comp.primary.describe(),
                "standbys": [sb.describe() for sb in comp.standbys],
            }
            for name, comp in self.components.items()
        }

    async def dump(self, comp_name: str) -> dict[str, Any]:
        """The current primary's whole state."""
        comp = self.components[comp_name]
        return await _ask(comp.primary.handle.dump.remote(), 30.0)


class RouteChanged(RuntimeFailure):
    """The component failed over while a request waited on the old primary."""


async def _ask_unless(ref: Any, timeout: float, changed: asyncio.Event) -> Any:
    """Await `ref`, but give up when `changed` is set (the route moved)."""
    reply = asyncio.ensure_future(_ask(ref, timeout))
    moved = asyncio.ensure_future(changed.wait())
    try:
        await asyncio.wait({reply, moved}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        moved.cancel()
    if reply.done():
        return reply.result()
    reply.cancel()
    raise RouteChanged("the component failed over; retry on the new primary")


def _answered_ok(ref: Any) -> bool:
    """Whether the ping behind `ref` has already been answered without error."""
    import ray

    try:
        reply = ray.get(ref, timeout=0)
    except Exception:
        return False
    return isinstance(reply, dict) and bool(reply.get("ok"))


async def _ask(ref: Any, timeout: float) -> Any:
    """Await a Ray object reference for at most `timeout` seconds."""

    async def wait() -> Any:
        return await ref

    return await asyncio.wait_for(wait(), timeout)
