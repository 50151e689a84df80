"""The recovery engine: managed components, failure detection and failover.

A :class:`ComponentGroup` is one component of the reference workload: a
primary worker process, its standbys (hot: synchronous replication; warm:
snapshot plus asynchronous log; cold: the newest verified snapshot file) and
the router's route to it. The :class:`Orchestrator` watches every primary and
when one fails it promotes the best standby, switches the router, verifies the
new primary and escalates hot -> warm -> cold when a step fails. Every step is
timed and recorded, and the standbys are rebuilt afterwards, off the
recovery's critical path.

Detection
    Three detectors watch each primary, and each suspicion records when and
    why: the process's exit (the supervisor reaps it), a heartbeat time-out
    (no ping answered for ``max(heartbeat_s * heartbeat_misses,
    pause_tolerance_s)``), and a phi-accrual detector
    (:class:`~qnrecovery.orchestrator.phi.PhiAccrualDetector`) over the
    heartbeats' arrival times, which tolerates pauses up to
    ``pause_tolerance_s``.

Fencing
    Every promotion increments the component's epoch. Primaries hold a lease
    that the heartbeats renew (an absolute ``time.monotonic()`` deadline, valid
    because the workers share this host's clock); a ping that goes unanswered
    stops the renewals, and a standby of a primary that is still alive (hung
    or slow) is promoted only once that lease has run out. A paused primary
    that wakes up later refuses every request, and the router drops replies
    of an older epoch than its route's.

Lost hot standbys
    A primary whose hot standby stops acknowledging detaches it and refuses
    writes (``hot-standby-lost``), since this engine would still promote that
    standby. The heartbeat sees the lost standby in the ping reply; off the
    critical path the engine drops it from the group, stops it, tells the
    primary to forget it (writes resume, the component counts as unprotected)
    and attaches a fresh hot standby.

State
    The recovery-state cache (:class:`~qnrecovery.orchestrator.state.StateCache`,
    in memory and in SQLite) holds each component's tier, epoch, workers and
    snapshot files, so a restarted orchestrator finds them
    (:meth:`Orchestrator.resume`). Snapshots rotate (``snapshots_kept``); a
    cold start uses the newest one whose checksum verifies and records each
    corrupt one it skipped.

Times come from the injected ``clock`` (``time.monotonic`` by default); the
wall clock is used only for the ``wall_time`` of emitted events, so a jump of
the system clock changes no measured duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qnrecovery.exceptions import DataError, RuntimeFailure
from qnrecovery.orchestrator.events import EventKind, EventSink, RecoveryEvent, emit
from qnrecovery.orchestrator.phi import PhiAccrualDetector
from qnrecovery.orchestrator.planner import PrepareLevel
from qnrecovery.orchestrator.state import StateCache
from qnrecovery.orchestrator.tiers import StandbyKind, TierSpec, tier_spec
from qnrecovery.runtime.protocol import Connection
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle
from qnrecovery.runtime.worker import load_snapshot

__all__ = [
    "ComponentGroup",
    "ComponentState",
    "Orchestrator",
    "RecoveryAttempt",
    "RecoveryRecord",
]

logger = logging.getLogger(__name__)

_RUNNING_KINDS = (StandbyKind.HOT, StandbyKind.WARM)

#: Detectors the engine can run; ``exit`` cannot be switched off.
DETECTORS = ("exit", "heartbeat", "phi")


class ComponentState(StrEnum):
    """Lifecycle of a managed component."""

    STARTING = "starting"
    SERVING = "serving"
    RECOVERING = "recovering"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass
class RecoveryAttempt:
    """One try at bringing a standby up as the new primary."""

    kind: str
    ok: bool
    worker: str | None
    epoch: int
    steps_ms: dict[str, float]
    error: str | None = None
    switch_time: float | None = None
    seq: int | None = None
    snapshot: str | None = None


@dataclass
class RecoveryRecord:
    """Everything measured about one recovery.

    Times are ``clock()`` values; durations are milliseconds. ``recovery_ms``
    runs from the fault (or, without a known fault time, from its detection)
    to the first client request the new primary answered. ``rpo_writes`` and
    ``rpo_ms`` are the writes the old primary acknowledged that the new one
    lacks, and how much older its newest write is than the old primary's
    newest acknowledged one.
    """

    component: str
    tier: str
    fault: str
    fault_time: float
    detected_by: str
    detect_time: float
    prepared: str
    why: str = ""
    attempts: list[RecoveryAttempt] = field(default_factory=list)
    strategy: str | None = None
    new_primary: str | None = None
    epoch: int | None = None
    switch_time: float | None = None
    first_answer_time: float | None = None
    route: list[Any] | None = None
    ok: bool = False
    fence_wait_ms: float = 0.0
    drained: bool = False
    rpo_writes: int | None = None
    rpo_ms: float | None = None
    snapshot_fallbacks: list[dict[str, str]] = field(default_factory=list)

    @property
    def escalations(self) -> int:
        """Failed attempts before the one that worked."""
        return sum(1 for a in self.attempts if not a.ok)

    @property
    def detect_ms(self) -> float:
        """From the fault to its detection."""
        return (self.detect_time - self.fault_time) * 1e3

    @property
    def recovery_ms(self) -> float | None:
        """From the fault to the new primary's first answer."""
        if self.first_answer_time is None:
            return None
        return (self.first_answer_time - self.fault_time) * 1e3


@dataclass(eq=False)
class ComponentGroup:
    """A managed component: its primary, standbys and state.

    Attributes
    ----------
    name : str
    tier : TierSpec
    hosts : dict of str to str
        Logical host of each role (``primary``, ``hot``, ``warm``, ``cold``).
    primary : WorkerHandle or None
    standbys : dict of StandbyKind to WorkerHandle
        Running standbys (hot and warm).
    extra : set of StandbyKind
        Standbys the planner added beyond the tier's default.
    epoch : int
    snapshot : Path or None
        Newest snapshot written for a cold start.
    state : ComponentState
    prepared : PrepareLevel
    lease_bound : float or None
        ``time.monotonic()`` after which the primary's lease has surely run
        out, unless renewed.
    drained : bool
        Whether the router sends the component's reads to its hot standby.
    """

    name: str
    tier: TierSpec
    hosts: dict[str, str]
    primary: WorkerHandle | None = None
    standbys: dict[StandbyKind, WorkerHandle] = field(default_factory=dict)
    extra: set[StandbyKind] = field(default_factory=set)
    epoch: int = 1
    snapshot: Path | None = None
    snapshot_seq: int = 0
    snapshot_count: int = 0
    state: ComponentState = ComponentState.STARTING
    prepared: PrepareLevel = PrepareLevel.MONITOR
    generation: int = 0
    pending_fault: tuple[str, float] | None = None
    lease_bound: float | None = None
    drained: bool = False
    pinned: set[str] = field(default_factory=set)

    def next_worker_name(self, role: str) -> str:
        """A fresh, unique worker name for ``role``."""
        self.generation += 1
        return f"{self.name}.{role}{self.generation}"

    def live_standby(self, kind: StandbyKind) -> WorkerHandle | None:
        """The running standby of ``kind``, if it is alive."""
        handle = self.standbys.get(kind)
        return handle if handle is not None and handle.alive else None

    def wanted(self) -> list[StandbyKind]:
        """Standbys the component should have now: its tier's and the extras."""
        kinds = list(self.tier.standbys) + sorted(self.extra - set(self.tier.standbys))
        # A warm standby the planner made hot replaces a warm one it added.
        added_warm = (
            StandbyKind.WARM in kinds and StandbyKind.WARM not in self.tier.standbys
        )
        if StandbyKind.HOT in self.extra and added_warm:
            kinds.remove(StandbyKind.WARM)
        return kinds

    def to_state(self) -> dict[str, Any]:
        """What the recovery-state cache keeps of this component."""
        return {
            "tier": self.tier.name,
            "hosts": self.hosts,
            "epoch": self.epoch,
            "primary": self.primary.name if self.primary else None,
            "standbys": {k.value: h.name for k, h in self.standbys.items()},
            "extra": sorted(k.value for k in self.extra),
            "state": self.state.value,
            "prepared": int(self.prepared),
            "generation": self.generation,
            "snapshot_count": self.snapshot_count,
        }


class Orchestrator:
    """Starts components, watches them and recovers them.

    Parameters
    ----------
    supervisor : Supervisor
        Parent of every worker process; it outlives an orchestrator restart.
    router : Router
        Routes client requests to each component's primary.
    workdir : Path
        Folder for snapshot files and, by default, the recovery-state file.
    heartbeat_s : float, default=0.02
        Heartbeat period.
    heartbeat_misses : int, default=3
        Heartbeat periods without an answer before a primary is suspected.
    pause_tolerance_s : float, default=0.0
        A pause of the primary up to this long triggers no failover: the
        heartbeat time-out is at least this long, and the phi detector
        accepts it on top of the mean interval.
    phi_threshold : float, default=8.0
        Suspicion level of the phi-accrual detector.
    phi_window : int, default=100
        Heartbeat intervals the phi detector estimates from.
    detectors : sequence of str, default=("exit", "heartbeat", "phi")
        Detectors to run; ``exit`` always runs.
    lease_s : float, optional
        A primary's lease; the heartbeat time-out by default.
    promote_timeout_s : float, default=0.5
        Seconds a standby may take to accept its promotion.
    start_timeout_s : float, default=10.0
        Seconds a new worker may take to listen.
    stop_old_primary : bool, default=True
        Stop a replaced primary that is still alive (hung or slow). Off, it
        lives on, fenced.
    cold_retries : int, default=2
        Cold starts tried again, after a short pause, when every standby
        kind failed; only then is the component marked failed.
    drain : bool, default=False
        At :attr:`PrepareLevel.IMMEDIATE`, send the component's reads to its
        hot standby.
    snapshots_kept : int, default=3
        Snapshot files kept per component.
    state : StateCache, optional
        Recovery-state cache; ``workdir / "recovery-state.sqlite"`` by default.
    sinks : sequence of EventSink, default=()
        Receivers of every :class:`RecoveryEvent`.
    routes : callable, optional
        ``routes(component, kind) -> list`` gives the network route computed
        ahead of time to the standby of ``kind``; recorded with each recovery.
    clock : callable, default=time.monotonic
        Time source of every recorded time and duration.
    wall_clock : callable, default=time.time
        Source of the events' ``wall_time`` only; no duration comes from it.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        router: Router,
        workdir: Path,
        *,
        heartbeat_s: float = 0.02,
        heartbeat_misses: int = 3,
        pause_tolerance_s: float = 0.0,
        phi_threshold: float = 8.0,
        phi_window: int = 100,
        detectors: Sequence[str] = DETECTORS,
        lease_s: float | None = None,
        promote_timeout_s: float = 0.5,
        start_timeout_s: float = 10.0,
        stop_old_primary: bool = True,
        cold_retries: int = 2,
        drain: bool = False,
        snapshots_kept: int = 3,
        state: StateCache | None = None,
        sinks: Sequence[EventSink] = (),
        routes: Callable[[str, str], list[Any] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = sorted(set(detectors) - set(DETECTORS))
        if unknown:
            raise RuntimeFailure(
                f"detectors of Orchestrator must be among {DETECTORS}; got {unknown}"
            )
        self.supervisor = supervisor
        self.router = router
        self.workdir = Path(workdir)
        self.heartbeat_s = heartbeat_s
        self.heartbeat_misses = heartbeat_misses
        self.pause_tolerance_s = pause_tolerance_s
        self.heartbeat_timeout_s = max(
            heartbeat_s * heartbeat_misses, pause_tolerance_s
        )
        self.phi_threshold = phi_threshold
        self.phi_window = phi_window
        self.detectors = frozenset(detectors) | {"exit"}
        self.lease_s = lease_s if lease_s is not None else self.heartbeat_timeout_s
        self.promote_timeout_s = promote_timeout_s
        self.start_timeout_s = start_timeout_s
        self.stop_old_primary = stop_old_primary
        self.cold_retries = max(0, cold_retries)
        self.drain = drain
        self.snapshots_kept = max(1, snapshots_kept)
        self.state = state or StateCache(self.workdir / "recovery-state.sqlite")
        self.sinks = tuple(sinks)
        self.routes = routes
        self.clock = clock
        self.wall_clock = wall_clock
        self.components: dict[str, ComponentGroup] = {}
        self.records: list[RecoveryRecord] = []
        self.suspicions: list[dict[str, Any]] = []
        self.drains: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovering: dict[str, asyncio.Task[RecoveryRecord]] = {}
        self._rebuilding: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    # -- events and state -----------------------------------------------------

    def _emit(
        self,
        kind: EventKind,
        group: ComponentGroup,
        reason: str = "",
        duration_s: float | None = None,
        **detail: Any,
    ) -> None:
        if self.sinks:
            event = RecoveryEvent(
                kind,
                group.name,
                group.tier.name,
                wall_time=self.wall_clock(),
                duration_s=duration_s,
                reason=reason,
                detail=detail,
            )
            emit(self.sinks, event)

    def _persist(self, group: ComponentGroup) -> None:
        self.state.put_component(group.name, group.to_state())

    # -- starting ------------------------------------------------------------

    async def _spawn_primary(
        self, group: ComponentGroup, role: str, epoch: int, snapshot: str | None
    ) -> WorkerHandle:
        handle = await self.supervisor.spawn(
            group.next_worker_name(role),
            "primary",
            epoch,
            snapshot=snapshot,
            ready_timeout=self.start_timeout_s,
            extra_args=("--lease", repr(self.lease_s)),
        )
        # The worker took its lease before it printed READY.
        group.lease_bound = time.monotonic() + self.lease_s
        return handle

    async def add_component(
        self, name: str, tier: TierSpec, hosts: dict[str, str]
    ) -> ComponentGroup:
        """Start a component's primary and standbys and route clients to it.

        Raises
        ------
        RuntimeFailure
            If a worker cannot be started or attached.
        """
        if name in self.components:
            raise RuntimeFailure(f"component {name!r} already exists")
        group = ComponentGroup(name, tier, dict(hosts))
        self.components[name] = group

        primary = await self._spawn_primary(group, "primary", group.epoch, None)
        group.primary = primary
        self.router.switch(name, primary.port, group.epoch, primary.name)
        self._persist(group)
        await self._ensure_standbys(group)
        await self.snapshot(name)
        group.state = ComponentState.SERVING
        self._persist(group)
        self._watch(group, primary)
        logger.info("component %s (%s) serving on %s", name, tier.name, primary.name)
        return group

    async def _ensure_standbys(self, group: ComponentGroup) -> None:
        """Start and attach every running standby the component lacks."""
        for kind in group.wanted():
            if kind not in _RUNNING_KINDS or group.live_standby(kind) is not None:
                continue
            primary = group.primary
            if primary is None or not primary.alive:
                return
            standby = await self.supervisor.spawn(
                group.next_worker_name(kind.value),
                kind.value,
                group.epoch,
                ready_timeout=self.start_timeout_s,
            )
            try:
                await self.supervisor.attach(primary, standby, kind.value)
            except RuntimeFailure:
                await self.supervisor.stop(standby, grace=0.2)
                raise
            if group.primary is not primary:
                # The primary changed while this standby was being built.
                await self.supervisor.stop(standby, grace=0.2)
                return
            group.standbys[kind] = standby
            self._persist(group)
            logger.info("%s: %s standby %s attached", group.name, kind, standby.name)

    async def move_standby(self, name: str, kind: StandbyKind, host: str) -> bool:
        """Move a component's standby of `kind` to logical host `host`.

        A running standby (hot or warm) is replaced make-before-break: the new
        one is started and attached to the primary (which sends it the full
        state), then takes the old one's place in one step, and only then is
        the old one detached and stopped, so a failover at any moment finds a
        standby that is complete. A cold standby is a host reservation and
        just changes host.

        Returns
        -------
        bool
            Whether the standby now lives on `host`. ``False`` when the
            component is not serving with that standby (it is recovering or
            rebuilding); the placement is then applied by the next rebuild.
        """
        group = self.components[name]
        if group.hosts.get(kind.value) == host:
            return True
        if kind not in _RUNNING_KINDS:
            group.hosts[kind.value] = host
            self._persist(group)
            return True

        old = group.live_standby(kind)
        primary = group.primary
        if old is None or primary is None or not primary.alive:
            group.hosts[kind.value] = host
            self._persist(group)
            return False
        standby = await self.supervisor.spawn(
            group.next_worker_name(kind.value),
            kind.value,
            group.epoch,
            ready_timeout=self.start_timeout_s,
        )
        try:
            await self.supervisor.attach(primary, standby, kind.value)
        except RuntimeFailure:
            await self.supervisor.stop(standby, grace=0.2)
            raise
        if group.primary is not primary or group.standbys.get(kind) is not old:
            # A failover happened while the new standby was being built.
            await self.supervisor.stop(standby, grace=0.2)
            return False

        group.standbys[kind] = standby
        group.hosts[kind.value] = host
        self._persist(group)
        with contextlib.suppress(RuntimeFailure):
            await self.supervisor.call(
                primary, {"op": "detach", "port": old.port}, timeout=2.0
            )
        await self.supervisor.stop(old, grace=0.2)
        logger.info("%s: %s standby moved to %s (%s)", name, kind, host, standby.name)
        return True

    # -- snapshots and preparation -------------------------------------------

    async def snapshot(self, name: str) -> Path | None:
        """Write a checksummed snapshot of the component's primary to disk.

        The file is recorded in the recovery-state cache; only the newest
        ``snapshots_kept`` files are kept.
        """
        group = self.components[name]
        primary = group.primary
        if primary is None or not primary.alive:
            return None
        group.snapshot_count += 1
        path = self.workdir / f"{name}.snap{group.snapshot_count:06d}.json"
        try:
            reply = await self.supervisor.call(
                primary, {"op": "snapshot", "path": str(path)}, timeout=2.0
            )
        except RuntimeFailure as err:
            self._log_failure(group, primary, "snapshot failed: %s", err)
            return None
        info = {
            "path": str(path),
            "seq": int(reply.get("seq", 0)),
            "crc": reply.get("crc"),
            "epoch": group.epoch,
        }
        self.state.add_snapshot(name, info)
        newest = self.state.snapshots(name)
        group.snapshot = Path(newest[0]["path"])
        group.snapshot_seq = int(newest[0]["seq"])
        for old in newest[self.snapshots_kept :]:
            if old["path"] in group.pinned:
                continue  # a cold start is reading it; pruned next time
            self.state.remove_snapshot(name, old["path"])
            with contextlib.suppress(OSError):
                Path(old["path"]).unlink()
        self._persist(group)
        return path

    async def prepare(
        self, name: str, level: PrepareLevel, *, probability: float | None = None
    ) -> str | None:
        """Apply the planner's level to a component; return what was done.

        ``GRADUAL`` takes a fresh snapshot and warms a standby for a tier
        that has none running; ``IMMEDIATE`` also makes a warm standby hot
        (re-attaching it ships it a fresh snapshot, so its state is loaded
        before the fault) and, with ``drain``, sends reads to it; ``MONITOR``
        releases what the planner added.
        """
        group = self.components[name]
        if group.state is not ComponentState.SERVING or level == group.prepared:
            return None
        previous, group.prepared = group.prepared, level
        primary = group.primary
        action: str | None = None
        try:
            if level < PrepareLevel.IMMEDIATE and group.drained:
                self._undrain(group)
            if level >= PrepareLevel.GRADUAL:
                await self.snapshot(name)
                action = "snapshot"
                if not any(group.live_standby(k) for k in _RUNNING_KINDS):
                    group.extra.add(StandbyKind.WARM)
                    action = "snapshot+warm"
            if level == PrepareLevel.IMMEDIATE and not group.live_standby(
                StandbyKind.HOT
            ):
                await self._make_hot(group)
                action = (action or "") + "+hot"
            if level == PrepareLevel.MONITOR and group.extra:
                await self._release(group)
                action = "release"
            await self._ensure_standbys(group)
            drain = level == PrepareLevel.IMMEDIATE and self.drain
            if drain and self._drain(group):
                action = (action or "") + "+drain"
        except RuntimeFailure as err:
            self._log_failure(group, primary, "preparation failed: %s", err)
            group.prepared = previous
            return f"failed: {err}"
        self._persist(group)
        logger.info("%s: prepared %s (%s)", name, level.name.lower(), action)
        self._emit(
            "prepared",
            group,
            reason=action or "",
            level=level.name.lower(),
            probability=probability,
        )
        return action

    def _drain(self, group: ComponentGroup) -> bool:
        hot = group.live_standby(StandbyKind.HOT)
        if hot is None or group.drained:
            return False
        self.router.drain(group.name, hot.port, hot.name)
        group.drained = True
        self.drains.append(
            {"component": group.name, "worker": hot.name, "time": self.clock()}
        )
        self._emit("drained", group, reason=f"reads to hot standby {hot.name}")
        return True

    def _undrain(self, group: ComponentGroup) -> bool:
        group.drained = False
        return self.router.undrain(group.name)

    async def _make_hot(self, group: ComponentGroup) -> None:
        group.extra.add(StandbyKind.HOT)
        warm = group.live_standby(StandbyKind.WARM)
        primary = group.primary
        if warm is None or primary is None:
            return
        # Re-attaching the warm standby as hot ships it a fresh snapshot and
        # replicates synchronously from then on.
        await self.supervisor.attach(primary, warm, StandbyKind.HOT.value)
        group.standbys[StandbyKind.HOT] = warm
        del group.standbys[StandbyKind.WARM]

    async def _release(self, group: ComponentGroup) -> None:
        for kind in list(group.extra):
            group.extra.discard(kind)
            if kind in group.tier.standbys:
                continue
            handle = group.standbys.pop(kind, None)
            if handle is not None and handle.alive:
                await self.supervisor.stop(handle, grace=0.2)

    def _log_failure(
        self,
        group: ComponentGroup,
        primary: WorkerHandle | None,
        message: str,
        *args: Any,
    ) -> None:
        """Log a failed background step, as a warning only if it is news.

        A step that failed because the primary it talked to has failed is
        the failure detector's business and is logged at INFO level.
        """
        primary_failed = (
            primary is None
            or not primary.alive
            or primary is not group.primary
            or group.pending_fault is not None
            or group.state is not ComponentState.SERVING
        )
        log = logger.info if primary_failed else logger.warning
        log("%s: " + message, group.name, *args)

    # -- failure detection ---------------------------------------------------

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _watch(self, group: ComponentGroup, primary: WorkerHandle) -> None:
        self._spawn_task(self._watch_exit(group, primary))
        if self.detectors & {"heartbeat", "phi"}:
            self._spawn_task(self._heartbeat(group, primary))

    async def _watch_exit(self, group: ComponentGroup, primary: WorkerHandle) -> None:
        await primary.exited.wait()
        why = f"process exited with code {primary.returncode}"
        self._suspect(group, primary, "exit", primary.exit_time or self.clock(), why)

    def _phi_detector(self) -> PhiAccrualDetector:
        return PhiAccrualDetector(
            threshold=self.phi_threshold,
            window=self.phi_window,
            min_std_s=self.heartbeat_s / 4,
            acceptable_pause_s=self.pause_tolerance_s,
            first_interval_s=self.heartbeat_s,
        )

    async def _ping(
        self,
        group: ComponentGroup,
        primary: WorkerHandle,
        conn: Connection | None,
        renew: bool,
    ) -> tuple[bool, Connection | None]:
        """One heartbeat, carrying a lease renewal if `renew`."""
        msg: dict[str, Any] = {"op": "ping"}
        if renew:
            lease_until = time.monotonic() + self.lease_s
            msg["lease_until"] = lease_until
            group.lease_bound = max(group.lease_bound or 0.0, lease_until)
        try:
            if conn is None or conn.closed:
                conn = await Connection.open(primary.port, self.heartbeat_s)
            reply = await conn.request(msg, timeout=self.heartbeat_s)
        except (RuntimeFailure, OSError):
            if conn is not None:
                conn.close()
            return False, None
        lost = reply.get("lost_hot") if reply.get("ok") else None
        if lost:
            self._replace_lost_hot(group, primary, [int(port) for port in lost])
        return bool(reply.get("ok")), conn

    def _replace_lost_hot(
        self, group: ComponentGroup, primary: WorkerHandle, ports: list[int]
    ) -> None:
        """Replace hot standbys the primary lost, off the critical path.

        The primary refuses writes while it reports a lost hot standby: the
        engine would still promote that standby, which may lack the writes.
        The task drops it from the group, tells the primary to forget it
        (writes resume, and the component counts as unprotected until a fresh
        hot standby is attached) and starts a fresh one.
        """
        if self._closing or primary is not group.primary:
            return
        if group.state is not ComponentState.SERVING:
            return
        busy = self._rebuilding.get(group.name)
        if busy is not None and not busy.done():
            # A rebuild is under way; the next heartbeat asks again.
            return
        # Once per replacement: later heartbeats find the rebuild under way.
        logger.warning(
            "%s: primary %s lost its hot standby on port %s and refuses "
            "writes; replacing that standby",
            group.name,
            primary.name,
            ", ".join(str(p) for p in ports),
        )
        task = self._spawn_task(self._drop_lost_hot(group, primary, ports))
        self._rebuilding[group.name] = task

    async def _drop_lost_hot(
        self, group: ComponentGroup, primary: WorkerHandle, ports: list[int]
    ) -> None:
        try:
            for port in ports:
                if primary is not group.primary or not primary.alive:
                    return
                if group.state is not ComponentState.SERVING:
                    return
                dropped = [
                    group.standbys.pop(kind)
                    for kind, handle in list(group.standbys.items())
                    if handle.port == port
                ]
                if dropped:
                    self._persist(group)
                try:
                    # Only now, with the standby out of the group, may the
                    # primary acknowledge writes without it.
                    await self.supervisor.call(
                        primary, {"op": "detach", "port": port}, timeout=2.0
                    )
                finally:
                    for handle in dropped:
                        if handle.alive:
                            await self.supervisor.stop(handle, grace=0.2)
                logger.info(
                    "%s: dropped lost hot standby on port %d (%s)",
                    group.name,
                    port,
                    ", ".join(h.name for h in dropped) or "not in the group",
                )

            await self._ensure_standbys(group)
        except RuntimeFailure as err:
            self._log_failure(
                group, primary, "replacing a lost hot standby failed: %s", err
            )

    async def _heartbeat(self, group: ComponentGroup, primary: WorkerHandle) -> None:
        phi = self._phi_detector()
        last_ok = self.clock()
        phi.heartbeat(last_ok)
        failures = 0
        conn: Connection | None = None
        wake = self.clock()
        try:
            while (
                primary is group.primary
                and primary.alive
                and not self._closing
                and group.state is ComponentState.SERVING
            ):
                started = self.clock()
                # A loop that woke up late was itself stalled (CPU starved);
                # the silence it saw says nothing about the primary.
                stalled = started - wake > self.heartbeat_s
                # An unanswered ping may still be handled later, so renewals
                # stop after the first one, and the lease bound with them.
                ok, conn = await self._ping(group, primary, conn, failures == 0)
                now = self.clock()
                if ok:
                    last_ok = now
                    phi.heartbeat(now)
                failures = 0 if ok else failures + 1
                if stalled:
                    last_ok = max(last_ok, started - self.heartbeat_s)
                elif self._check_silence(group, primary, phi, now, last_ok, failures):
                    return
                delay = max(0.0, self.heartbeat_s - (self.clock() - started))
                wake = self.clock() + delay
                await asyncio.sleep(delay)
        finally:
            if conn is not None:
                conn.close()

    def _check_silence(
        self,
        group: ComponentGroup,
        primary: WorkerHandle,
        phi: PhiAccrualDetector,
        now: float,
        last_ok: float,
        failures: int,
    ) -> bool:
        """Suspect the primary if its silence is long enough; whether it was.

        Both detectors also need pings that went unanswered in a row (all
        ``heartbeat_misses`` for the time-out, two for phi), so a single slow
        answer on a loaded machine is not a failure.
        """
        silent = now - last_ok
        timed_out = silent >= self.heartbeat_timeout_s
        missed = failures >= self.heartbeat_misses
        if "heartbeat" in self.detectors and timed_out and missed:
            why = (
                f"{failures} heartbeats in a row unanswered, none for "
                f"{silent * 1e3:.1f} ms (time-out "
                f"{self.heartbeat_timeout_s * 1e3:.1f} ms)"
            )
            self._suspect(group, primary, "heartbeat", now, why)
            return True
        level = phi.phi(now)
        if "phi" in self.detectors and level >= self.phi_threshold and failures >= 2:
            mean, std = phi.stats()
            why = (
                f"phi {level:.1f} >= {self.phi_threshold:g} after "
                f"{silent * 1e3:.1f} ms without a heartbeat (mean interval "
                f"{mean * 1e3:.1f} ms, std {std * 1e3:.1f} ms)"
            )
            self._suspect(group, primary, "phi", now, why)
            return True
        return False

    def note_fault(self, name: str, kind: str, when: float) -> None:
        """Tell the engine a fault was injected, so recovery is timed from it."""
        self.components[name].pending_fault = (kind, when)

    def _suspect(
        self,
        group: ComponentGroup,
        primary: WorkerHandle | None,
        cause: str,
        when: float,
        why: str = "",
    ) -> None:
        if self._closing or primary is not group.primary:
            return
        if group.state is not ComponentState.SERVING:
            return
        fault = group.pending_fault[0] if group.pending_fault else None
        self.suspicions.append(
            {
                "component": group.name,
                "worker": primary.name if primary else None,
                "cause": cause,
                "why": why,
                "time": when,
                "fault": fault,
            }
        )
        logger.info("%s: primary suspected (%s): %s", group.name, cause, why)
        self._emit("suspected", group, reason=cause, why=why, fault=fault)
        group.state = ComponentState.RECOVERING
        task = self._spawn_task(self._recover(group, cause, when, why))
        self._recovering[group.name] = task

    # -- recovery ------------------------------------------------------------

    async def _fence_old(self, group: ComponentGroup, old: WorkerHandle) -> float:
        """Wait until a live old primary's lease has run out; return the ms."""
        started = self.clock()
        wait = (group.lease_bound or 0.0) - time.monotonic()
        if wait > 0 and old.alive:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(old.exited.wait(), wait)
        return (self.clock() - started) * 1e3

    async def _recover(
        self, group: ComponentGroup, cause: str, detect_time: float, why: str = ""
    ) -> RecoveryRecord:
        fault, fault_time = group.pending_fault or ("unknown", detect_time)
        group.pending_fault = None
        record = RecoveryRecord(
            component=group.name,
            tier=group.tier.name,
            fault=fault,
            fault_time=fault_time,
            detected_by=cause,
            detect_time=detect_time,
            prepared=group.prepared.name.lower(),
            why=why,
        )
        self.records.append(record)
        old, old_epoch = group.primary, group.epoch
        if old is not None and old.alive:
            record.fence_wait_ms = await self._fence_old(group, old)
        record.drained = self._undrain(group)

        first_try = self._strategies(group)
        retries = [StandbyKind.COLD] * self.cold_retries
        for i, kind in enumerate(first_try + retries):
            retry = i - len(first_try) + 1
            if retry > 0:
                # Another cold start after a pause: a starved machine may
                # have missed a time-out that the next try meets.
                await asyncio.sleep(0.1 * retry)
            group.epoch += 1
            attempt = await self._attempt(group, kind, group.epoch, record)
            record.attempts.append(attempt)
            if attempt.ok:
                record.ok, record.strategy = True, kind.value
                record.new_primary, record.epoch = attempt.worker, group.epoch
                record.switch_time = attempt.switch_time
                break
            logger.warning(
                "%s: %s standby failed (%s); escalating",
                group.name,
                kind,
                attempt.error,
            )
            self._emit("escalated", group, reason=attempt.error or "", standby=kind)

        if not record.ok:
            group.state = ComponentState.FAILED
            self._persist(group)
            logger.error("%s: every recovery strategy failed", group.name)
            self._emit("unrecovered", group, reason="every standby kind failed")
            return record

        group.state = ComponentState.SERVING
        self._persist(group)
        if self.routes is not None and record.strategy is not None:
            record.route = self.routes(group.name, record.strategy)
        assert group.primary is not None
        self._watch(group, group.primary)
        if old is not None and old.alive and self.stop_old_primary:
            self._spawn_task(self.supervisor.stop(old, grace=0.1))
        record.first_answer_time = await self._first_answer(group.name, group.epoch)
        self._measure_rpo(record, old_epoch)
        self._schedule_rebuild(group)
        self._report_recovered(group, record)
        return record

    def _report_recovered(self, group: ComponentGroup, record: RecoveryRecord) -> None:
        ms = record.recovery_ms
        logger.info(
            "%s: recovered by %s standby %s in %s ms",
            group.name,
            record.strategy,
            record.new_primary,
            None if ms is None else round(ms, 2),
        )
        duration = None if ms is None else ms / 1e3
        self._emit(
            "recovered",
            group,
            reason=record.strategy or "",
            duration_s=duration,
            fault=record.fault,
            escalations=record.escalations,
        )
        if ms is None or ms > group.tier.objective_ms:
            self._emit(
                "objective-missed",
                group,
                reason=f"objective {group.tier.objective_ms:g} ms",
                duration_s=duration,
                fault=record.fault,
            )

    def _measure_rpo(self, record: RecoveryRecord, old_epoch: int) -> None:
        """Writes the old primary acknowledged that the new one lacks."""
        stats = self.router.stats.get(record.component)
        attempt = record.attempts[-1]
        if stats is None or attempt.seq is None:
            return
        last = stats.last_ack(old_epoch)
        if last is None:
            record.rpo_writes, record.rpo_ms = 0, 0.0
            return
        last_seq, last_time = last
        record.rpo_writes = max(0, last_seq - attempt.seq)
        if record.rpo_writes == 0:
            record.rpo_ms = 0.0
            return
        have = stats.ack_time(attempt.seq) if attempt.seq > 0 else None
        record.rpo_ms = None if have is None else (last_time - have) * 1e3

    def _strategies(self, group: ComponentGroup) -> list[StandbyKind]:
        """Standby kinds to try, best first; a cold start always comes last."""
        kinds = [
            k for k in _RUNNING_KINDS if k in group.tier.standbys or k in group.standbys
        ]
        return [*kinds, StandbyKind.COLD]

    async def _attempt(
        self,
        group: ComponentGroup,
        kind: StandbyKind,
        epoch: int,
        record: RecoveryRecord,
    ) -> RecoveryAttempt:
        steps: dict[str, float] = {}
        handle: WorkerHandle | None = None
        started = self.clock()
        seq: int | None = None
        snapshot: str | None = None
        try:
            if kind is StandbyKind.COLD:
                snapshot, seq = await self._choose_snapshot(group, record)
                if snapshot is not None:
                    group.pinned.add(snapshot)
                try:
                    handle = await self._spawn_primary(group, "cold", epoch, snapshot)
                finally:
                    group.pinned.discard(snapshot or "")
                steps["start_ms"] = (self.clock() - started) * 1e3
            else:
                handle = group.standbys.pop(kind, None)
                if handle is None or not handle.alive:
                    raise RuntimeFailure(f"no live {kind.value} standby")
                lease_until = time.monotonic() + self.lease_s
                reply = await self.supervisor.promote(
                    handle,
                    epoch,
                    timeout=self.promote_timeout_s,
                    lease_until=lease_until,
                )
                group.lease_bound = lease_until
                seq = int(reply.get("seq", 0))
                steps["promote_ms"] = (self.clock() - started) * 1e3

            switched = self.clock()
            group.primary = handle
            self.router.switch(group.name, handle.port, epoch, handle.name)
            steps["switch_ms"] = (self.clock() - switched) * 1e3

            verified = self.clock()
            reply = await self.supervisor.call(
                handle, {"op": "ping"}, timeout=self.promote_timeout_s
            )
            if reply.get("role") != "primary" or int(reply.get("epoch", -1)) != epoch:
                raise RuntimeFailure(f"verification failed: {reply}")
            steps["verify_ms"] = (self.clock() - verified) * 1e3
            return RecoveryAttempt(
                kind.value,
                True,
                handle.name,
                epoch,
                steps,
                switch_time=switched,
                seq=seq,
                snapshot=snapshot,
            )
        except (RuntimeFailure, OSError) as err:
            if handle is not None and handle.alive:
                await self.supervisor.stop(handle, grace=0.1)
            name = handle.name if handle else None
            return RecoveryAttempt(
                kind.value, False, name, epoch, steps, str(err), snapshot=snapshot
            )

    async def _choose_snapshot(
        self, group: ComponentGroup, record: RecoveryRecord
    ) -> tuple[str | None, int]:
        """The newest snapshot whose checksum verifies, and its sequence number.

        Each corrupt snapshot skipped is recorded in ``record``. If none
        verifies, the newest is returned anyway, so that the worker refuses it
        and the attempt fails with the checksum error; with no snapshot at all
        the cold start begins empty.
        """
        candidates = [s for s in self.state.snapshots(group.name)]
        for info in candidates:
            path = str(info["path"])
            try:
                snap = await asyncio.to_thread(load_snapshot, path)
            except DataError as err:
                if all(f["path"] != path for f in record.snapshot_fallbacks):
                    record.snapshot_fallbacks.append({"path": path, "error": str(err)})
                    logger.warning("%s: skipping snapshot: %s", group.name, err)
                continue
            return path, int(snap["seq"])
        if candidates:
            return str(candidates[0]["path"]), 0
        logger.warning("%s: no snapshot; the cold start begins empty", group.name)
        return None, 0

    async def _first_answer(
        self, name: str, epoch: int, timeout: float = 5.0
    ) -> float | None:
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            answered = self.router.first_answer_after(name, epoch)
            if answered is not None:
                return answered
            await asyncio.sleep(0.0005)
        logger.warning("%s: no client request answered within %.1f s", name, timeout)
        return None

    def _schedule_rebuild(self, group: ComponentGroup) -> None:
        async def rebuild() -> None:
            primary = group.primary
            try:
                await self._reattach_standbys(group)
                await self._ensure_standbys(group)
                await self.snapshot(group.name)
            except RuntimeFailure as err:
                self._log_failure(group, primary, "rebuilding standbys failed: %s", err)

        self._rebuilding[group.name] = self._spawn_task(rebuild())

    async def _reattach_standbys(self, group: ComponentGroup) -> None:
        """Attach the standbys that outlived a failover to the new primary.

        They were fed by the failed primary; left as they are, they would stay
        behind the new one. A standby that cannot be attached is stopped and
        dropped, so that :meth:`_ensure_standbys` starts a fresh one.
        """
        primary = group.primary
        for kind, standby in list(group.standbys.items()):
            if primary is None or not primary.alive or group.primary is not primary:
                return
            try:
                await self.supervisor.attach(primary, standby, kind.value)
            except RuntimeFailure as err:
                self._log_failure(
                    group, primary, "re-attaching %s failed: %s", kind, err
                )
                if group.standbys.get(kind) is standby:
                    del group.standbys[kind]
                if standby.alive:
                    await self.supervisor.stop(standby, grace=0.2)

    def protected(self, name: str) -> bool:
        """Whether a component serves with every standby it should have."""
        group = self.components[name]
        if group.state is not ComponentState.SERVING or group.pending_fault:
            # A fault injected but not yet detected leaves it unprotected too.
            return False
        rebuild = self._rebuilding.get(name)
        if rebuild is not None and not rebuild.done():
            return False
        return all(
            group.live_standby(kind) is not None
            for kind in group.wanted()
            if kind in _RUNNING_KINDS
        )

    # -- restart -------------------------------------------------------------

    async def resume(self) -> list[str]:
        """Take over the components recorded in the recovery-state cache.

        Workers are found among the supervisor's handles by name; every live
        one is asked for its role and epoch, so a promotion the previous
        orchestrator made but could not record is not lost. A component whose
        primary died meanwhile is recovered at once.

        Returns
        -------
        list of str
            Names of the components taken over.
        """
        by_name = {h.name: h for h in self.supervisor.handles}
        resumed = []
        for name, body in sorted(self.state.components().items()):
            if name in self.components:
                continue
            group = await self._resume_group(name, body, by_name)
            self.components[name] = group
            resumed.append(name)
            if group.state is ComponentState.FAILED:
                continue
            group.state = ComponentState.SERVING
            primary = group.primary
            if primary is None:
                self._suspect(
                    group,
                    None,
                    "resume",
                    self.clock(),
                    "no live primary found after the orchestrator restarted",
                )
                continue
            if primary.alive:
                self.router.switch(name, primary.port, group.epoch, primary.name)
            self._watch(group, primary)
            logger.info("%s: resumed at epoch %d", name, group.epoch)
        return resumed

    async def _resume_group(
        self, name: str, body: dict[str, Any], by_name: dict[str, WorkerHandle]
    ) -> ComponentGroup:
        group = ComponentGroup(
            name,
            tier_spec(body["tier"]),
            dict(body.get("hosts", {})),
            epoch=int(body["epoch"]),
            extra={StandbyKind(k) for k in body.get("extra", [])},
            state=ComponentState(body.get("state", "serving")),
            prepared=PrepareLevel(int(body.get("prepared", 0))),
            generation=int(body.get("generation", 0)),
            snapshot_count=int(body.get("snapshot_count", 0)),
        )
        snaps = self.state.snapshots(name)
        if snaps:
            group.snapshot, group.snapshot_seq = Path(snaps[0]["path"]), snaps[0]["seq"]
        primary = by_name.get(body.get("primary") or "")
        standbys = {
            StandbyKind(k): by_name[n]
            for k, n in body.get("standbys", {}).items()
            if n in by_name and by_name[n].alive
        }
        # Ask the live workers: the newest epoch and who is primary in it.
        best: tuple[int, WorkerHandle] | None = None
        for handle in [primary, *standbys.values()]:
            if handle is None or not handle.alive:
                continue
            with contextlib.suppress(RuntimeFailure):
                pong = await self.supervisor.call(handle, {"op": "ping"}, timeout=0.5)
                epoch = int(pong["epoch"])
                group.epoch = max(group.epoch, epoch)
                if pong["role"] == "primary" and (best is None or epoch > best[0]):
                    best = (epoch, handle)
        if best is not None and best[1] is not primary:
            primary = best[1]
            standbys = {k: h for k, h in standbys.items() if h is not primary}
        group.primary, group.standbys = primary, standbys
        if primary is not None and primary.alive:
            group.lease_bound = time.monotonic() + self.lease_s
        return group

    # -- waiting and stopping ------------------------------------------------

    async def settle(self, name: str | None = None, timeout: float = 10.0) -> None:
        """Wait until recoveries and rebuilds (of one component) are done.

        A recovery schedules its rebuild when it ends, so this waits again
        until nothing is pending or ``timeout`` seconds have passed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tasks = [
                t
                for table in (self._recovering, self._rebuilding)
                for key, t in table.items()
                if name in (None, key) and not t.done()
            ]
            remaining = deadline - loop.time()
            if not tasks or remaining <= 0:
                return
            await asyncio.wait(tasks, timeout=remaining)

    async def dump(self, name: str) -> dict[str, Any]:
        """The ``dump`` reply of the component's current primary."""
        group = self.components[name]
        if group.primary is None or not group.primary.alive:
            raise RuntimeFailure(f"component {name!r} has no live primary to dump")
        return await self.supervisor.dump(group.primary)

    async def close(self) -> None:
        """Stop watching; the supervisor stops the processes.

        The recovery-state file keeps what it holds, so another orchestrator
        can :meth:`resume` these components.
        """
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for group in self.components.values():
            group.state = ComponentState.STOPPED
        self.state.close()
