"""The recovery engine: managed components, failure detection and failover.

A :class:`ComponentGroup` is one component of the reference workload: a
primary worker process, its standbys (hot: synchronous replication; warm:
snapshot plus asynchronous log; cold: the newest verified snapshot file) and
the router's route to it. The :class:`Orchestrator` watches every primary
(process exit and heartbeats), and when one fails it promotes the best
standby, switches the router, verifies the new primary and escalates
hot -> warm -> cold when a step fails. Every step is timed and recorded, and
the standbys are rebuilt afterwards, off the recovery's critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qnrecovery.exceptions import RuntimeFailure
from qnrecovery.orchestrator.planner import PrepareLevel
from qnrecovery.orchestrator.tiers import StandbyKind, TierSpec
from qnrecovery.runtime.protocol import Connection
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle

__all__ = [
    "ComponentGroup",
    "ComponentState",
    "Orchestrator",
    "RecoveryAttempt",
    "RecoveryRecord",
]

logger = logging.getLogger(__name__)

_RUNNING_KINDS = (StandbyKind.HOT, StandbyKind.WARM)


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


@dataclass
class RecoveryRecord:
    """Everything measured about one recovery.

    Times are ``time.monotonic()`` values; durations are milliseconds.
    ``recovery_ms`` runs from the fault (or, without a known fault time, from
    its detection) to the first client request the new primary answered.
    """

    component: str
    tier: str
    fault: str
    fault_time: float
    detected_by: str
    detect_time: float
    prepared: str
    attempts: list[RecoveryAttempt] = field(default_factory=list)
    strategy: str | None = None
    new_primary: str | None = None
    epoch: int | None = None
    switch_time: float | None = None
    first_answer_time: float | None = None
    route: list[Any] | None = None
    ok: bool = False

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
    state: ComponentState = ComponentState.STARTING
    prepared: PrepareLevel = PrepareLevel.MONITOR
    generation: int = 0
    pending_fault: tuple[str, float] | None = None

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


class Orchestrator:
    """Starts components, watches them and recovers them.

    Parameters
    ----------
    supervisor : Supervisor
        Parent of every worker process.
    router : Router
        Routes client requests to each component's primary.
    workdir : Path
        Folder for snapshot files.
    heartbeat_s : float, default=0.02
        Heartbeat period.
    heartbeat_misses : int, default=3
        Missed heartbeats before a primary is suspected.
    routes : callable, optional
        ``routes(component, kind) -> list`` gives the network route computed
        ahead of time to the standby of ``kind``; recorded with each recovery.
    clock : callable, default=time.monotonic
        Time source; every recorded time comes from it.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        router: Router,
        workdir: Path,
        *,
        heartbeat_s: float = 0.02,
        heartbeat_misses: int = 3,
        routes: Callable[[str, str], list[Any] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.supervisor = supervisor
        self.router = router
        self.workdir = Path(workdir)
        self.heartbeat_s = heartbeat_s
        self.heartbeat_misses = heartbeat_misses
        self.routes = routes
        self.clock = clock
        self.components: dict[str, ComponentGroup] = {}
        self.records: list[RecoveryRecord] = []
        self.suspicions: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovering: dict[str, asyncio.Task[RecoveryRecord]] = {}
        self._rebuilding: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    # -- starting ------------------------------------------------------------

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

        primary = await self.supervisor.spawn(
            group.next_worker_name("primary"), "primary", group.epoch
        )
        group.primary = primary
        self.router.switch(name, primary.port, group.epoch, primary.name)
        await self._ensure_standbys(group)
        await self.snapshot(name)
        group.state = ComponentState.SERVING
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
                group.next_worker_name(kind.value), kind.value, group.epoch
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
            logger.info("%s: %s standby %s attached", group.name, kind, standby.name)

    # -- snapshots and preparation -------------------------------------------

    async def snapshot(self, name: str) -> Path | None:
        """Write a verified snapshot of the component's primary to disk."""
        group = self.components[name]
        primary = group.primary
        if primary is None or not primary.alive:
            return None
        path = self.workdir / f"{name}.snapshot.json"
        try:
            reply = await self.supervisor.call(
                primary, {"op": "snapshot", "path": str(path)}, timeout=2.0
            )
        except RuntimeFailure as err:
            self._log_failure(group, primary, "snapshot failed: %s", err)
            return None
        group.snapshot = path
        group.snapshot_seq = int(reply.get("seq", 0))
        return path

    async def prepare(self, name: str, level: PrepareLevel) -> str | None:
        """Apply the planner's level to a component; return what was done.

        ``GRADUAL`` takes a fresh snapshot and warms a standby for a tier
        that has none running; ``IMMEDIATE`` also makes a warm standby hot;
        ``MONITOR`` releases what the planner added.
        """
        group = self.components[name]
        if group.state is not ComponentState.SERVING or level == group.prepared:
            return None
        previous, group.prepared = group.prepared, level
        primary = group.primary
        action: str | None = None
        try:
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
        except RuntimeFailure as err:
            self._log_failure(group, primary, "preparation failed: %s", err)
            group.prepared = previous
            return f"failed: {err}"
        logger.info("%s: prepared %s (%s)", name, level.name.lower(), action)
        return action

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
        self._spawn_task(self._heartbeat(group, primary))

    async def _watch_exit(self, group: ComponentGroup, primary: WorkerHandle) -> None:
        await primary.exited.wait()
        self._suspect(group, primary, "exit", primary.exit_time or self.clock())

    async def _heartbeat(self, group: ComponentGroup, primary: WorkerHandle) -> None:
        misses = 0
        conn: Connection | None = None
        try:
            while primary is group.primary and primary.alive and not self._closing:
                started = self.clock()
                try:
                    if conn is None or conn.closed:
                        conn = await Connection.open(primary.port, self.heartbeat_s * 2)
                    reply = await conn.request(
                        {"op": "ping"}, timeout=self.heartbeat_s * 2
                    )
                    misses = 0 if reply.get("ok") else misses + 1
                except (RuntimeFailure, OSError):
                    misses += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                if misses >= self.heartbeat_misses:
                    self._suspect(group, primary, "heartbeat", self.clock())
                    return
                elapsed = self.clock() - started
                await asyncio.sleep(max(0.0, self.heartbeat_s - elapsed))
        finally:
            if conn is not None:
                conn.close()

    def note_fault(self, name: str, kind: str, when: float) -> None:
        """Tell the engine a fault was injected, so recovery is timed from it."""
        self.components[name].pending_fault = (kind, when)

    def _suspect(
        self, group: ComponentGroup, primary: WorkerHandle, cause: str, when: float
    ) -> None:
        if self._closing or primary is not group.primary:
            return
        if group.state is not ComponentState.SERVING:
            return
        self.suspicions.append(
            {
                "component": group.name,
                "worker": primary.name,
                "cause": cause,
                "time": when,
            }
        )
        logger.info("%s: primary %s suspected (%s)", group.name, primary.name, cause)
        group.state = ComponentState.RECOVERING
        task = self._spawn_task(self._recover(group, cause, when))
        self._recovering[group.name] = task

    # -- recovery ------------------------------------------------------------

    async def _recover(
        self, group: ComponentGroup, cause: str, detect_time: float
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
        )
        self.records.append(record)
        old = group.primary

        for kind in self._strategies(group):
            group.epoch += 1
            attempt = await self._attempt(group, kind, group.epoch)
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

        if not record.ok:
            group.state = ComponentState.FAILED
            logger.error("%s: every recovery strategy failed", group.name)
            return record

        if self.routes is not None and record.strategy is not None:
            record.route = self.routes(group.name, record.strategy)
        group.state = ComponentState.SERVING
        assert group.primary is not None
        self._watch(group, group.primary)
        if old is not None and old.alive:
            await self.supervisor.stop(old, grace=0.1)
        record.first_answer_time = await self._first_answer(group.name, group.epoch)
        self._schedule_rebuild(group)
        logger.info(
            "%s: recovered by %s standby %s in %s ms",
            group.name,
            record.strategy,
            record.new_primary,
            None if record.recovery_ms is None else round(record.recovery_ms, 2),
        )
        return record

    def _strategies(self, group: ComponentGroup) -> list[StandbyKind]:
        """Standby kinds to try, best first; a cold start always comes last."""
        kinds = [
            k for k in _RUNNING_KINDS if k in group.tier.standbys or k in group.standbys
        ]
        return [*kinds, StandbyKind.COLD]

    async def _attempt(
        self, group: ComponentGroup, kind: StandbyKind, epoch: int
    ) -> RecoveryAttempt:
        steps: dict[str, float] = {}
        handle: WorkerHandle | None = None
        started = self.clock()
        try:
            if kind is StandbyKind.COLD:
                handle = await self._cold_start(group, epoch)
                steps["start_ms"] = (self.clock() - started) * 1e3
            else:
                handle = group.standbys.pop(kind, None)
                if handle is None or not handle.alive:
                    raise RuntimeFailure(f"no live {kind.value} standby")
                await self.supervisor.promote(handle, epoch, timeout=0.5)
                steps["promote_ms"] = (self.clock() - started) * 1e3

            switched = self.clock()
            group.primary = handle
            self.router.switch(group.name, handle.port, epoch, handle.name)
            steps["switch_ms"] = (self.clock() - switched) * 1e3

            verified = self.clock()
            reply = await self.supervisor.call(handle, {"op": "ping"}, timeout=0.5)
            if reply.get("role") != "primary" or int(reply.get("epoch", -1)) != epoch:
                raise RuntimeFailure(f"verification failed: {reply}")
            steps["verify_ms"] = (self.clock() - verified) * 1e3
            return RecoveryAttempt(
                kind.value, True, handle.name, epoch, steps, switch_time=switched
            )
        except (RuntimeFailure, OSError) as err:
            if handle is not None and handle.alive:
                await self.supervisor.stop(handle, grace=0.1)
            return RecoveryAttempt(
                kind.value,
                False,
                handle.name if handle else None,
                epoch,
                steps,
                str(err),
            )

    async def _cold_start(self, group: ComponentGroup, epoch: int) -> WorkerHandle:
        snapshot = group.snapshot
        if snapshot is not None and not snapshot.exists():
            snapshot = None
        if snapshot is None:
            logger.warning("%s: no snapshot; the cold start begins empty", group.name)
        return await self.supervisor.spawn(
            group.next_worker_name("cold"),
            "primary",
            epoch,
            snapshot=None if snapshot is None else str(snapshot),
        )

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
        """Stop watching; the supervisor stops the processes."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for group in self.components.values():
            group.state = ComponentState.STOPPED
