"""Start, signal, watch and reap worker processes.

The supervisor is the parent of every worker it starts and reaps each one, so
no killed worker lingers as a zombie (the PID 1 of some containers reaps
nothing). On Linux it also makes its process the child subreaper, so workers'
own children, if any, are reparented to it rather than lost.

Examples
--------
>>> import asyncio
>>> from qnrecovery.runtime.supervisor import Supervisor
>>> async def main():  # doctest: +SKIP
...     async with Supervisor() as sup:
...         primary = await sup.spawn("kv-a", "primary", epoch=1)
...         standby = await sup.spawn("kv-b", "hot", epoch=1)
...         await sup.attach(primary, standby, "hot")
...         injected = sup.kill(primary)
...         await primary.exited.wait()
...         await sup.promote(standby, epoch=2)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.runtime.protocol import Connection

__all__ = ["Supervisor", "WorkerHandle", "become_subreaper"]

logger = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36
_STDERR_LINES = 40


def become_subreaper() -> bool:
    """Make this process the child subreaper (Linux ``prctl``).

    Returns
    -------
    bool
        Whether the call succeeded; ``False`` off Linux or when refused.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@dataclass(eq=False)
class WorkerHandle:
    """A started worker process.

    Attributes
    ----------
    name : str
        Worker name.
    role : str
        Role it was started in (``"primary"``, ``"hot"`` or ``"warm"``);
        :meth:`Supervisor.promote` sets it to ``"primary"``.
    epoch : int
        Epoch it was started in, or promoted to.
    pid : int
        Process id; also its process-group id.
    port : int
        TCP port it listens on, on 127.0.0.1.
    process : asyncio.subprocess.Process
        The child process.
    started_at : float
        ``time.monotonic()`` when it was started.
    exited : asyncio.Event
        Set once the process has exited and was reaped.
    exit_time : float or None
        ``time.monotonic()`` when the exit was noticed.
    returncode : int or None
        Exit status; negative for a signal.
    """

    name: str
    role: str
    epoch: int
    pid: int
    port: int
    process: asyncio.subprocess.Process
    started_at: float
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    exit_time: float | None = None
    returncode: int | None = None
    _stderr: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=_STDERR_LINES), repr=False
    )
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, repr=False)

    @property
    def alive(self) -> bool:
        """Whether the process has not exited yet."""
        return not self.exited.is_set()

    @property
    def stderr_tail(self) -> str:
        """The last lines the worker wrote to stderr."""
        return "".join(self._stderr)

    def describe(self) -> str:
        """One phrase naming the worker, for messages."""
        return f"worker {self.name!r} (pid {self.pid}, port {self.port})"


class Supervisor:
    """Parent of the worker processes of the reference workload.

    Parameters
    ----------
    python : str, optional
        Interpreter for the workers; this one by default.
    env : dict, optional
        Environment for the workers; this process's by default.
    subreaper : bool, default=True
        Make this process the child subreaper on Linux when the first worker
        starts (failure is ignored).
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        env: dict[str, str] | None = None,
        subreaper: bool = True,
    ) -> None:
        self.python = python or sys.executable
        self.env = env
        self.subreaper = subreaper
        self.handles: list[WorkerHandle] = []
        self._subreaper_tried = False

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_all()

    # -- starting -------------------------------------------------------------

    async def spawn(
        self,
        name: str,
        role: str,
        epoch: int,
        snapshot: str | None = None,
        ready_timeout: float = 10.0,
        *,
        port: int = 0,
        extra_args: tuple[str, ...] = (),
    ) -> WorkerHandle:
        """Start a worker and wait until it listens.

        Parameters
        ----------
        name : str
            Worker name.
        role : {"primary", "hot", "warm"}
            Starting role.
        epoch : int
            Starting epoch.
        snapshot : str, optional
            Snapshot file to start from (a cold standby).
        ready_timeout : float, default=10.0
            Seconds to wait for the worker's ``READY`` line.
        port : int, default=0
            Port to listen on; 0 lets the system choose.
        extra_args : tuple of str, default=()
            More worker arguments, e.g. ``("--hot-timeout", "0.5")``.

        Returns
        -------
        WorkerHandle

        Raises
        ------
        ConfigError
            If `role` is not a worker role.
        RuntimeFailure
            If the worker exits or stays silent before it is ready; the
            message carries its stderr tail.
        """
        if role not in ("primary", "hot", "warm"):
            raise ConfigError(
                f"role of Supervisor.spawn must be 'primary', 'hot' or 'warm'; "
                f"got {role!r}"
            )
        if self.subreaper and not self._subreaper_tried:
            self._subreaper_tried = True
            if not become_subreaper():
                logger.debug("could not become the child subreaper; continuing")

        args = ["--name", name, "--role", role, "--epoch", str(epoch)]
        args += ["--port", str(port), *extra_args]
        if snapshot is not None:
            args += ["--snapshot", os.fspath(snapshot)]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "qnrecovery.runtime.worker",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=self.env,
        )
        handle = WorkerHandle(name, role, epoch, proc.pid, 0, proc, started)
        self.handles.append(handle)
        handle._tasks = [
            asyncio.create_task(self._drain_stderr(handle)),
            asyncio.create_task(self._watch(handle)),
        ]
        handle.port = await self._await_ready(handle, ready_timeout)
        logger.info("started %s as %s, epoch %d", handle.describe(), role, epoch)
        return handle

    async def _await_ready(self, handle: WorkerHandle, timeout: float) -> int:
        stdout = handle.process.stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(stdout.readline(), timeout)
        except TimeoutError:
            await self._force_stop(handle)
            raise RuntimeFailure(
                f"worker {handle.name!r} (pid {handle.pid}) did not print READY "
                f"within {timeout:g} s and was killed; stderr tail:\n"
                f"{handle.stderr_tail or '(empty)'}"
            ) from None
        parts = line.decode(errors="replace").split()
        if len(parts) == 2 and parts[0] == "READY" and parts[1].isdigit():
            return int(parts[1])

        await self._force_stop(handle)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(handle._tasks[0], 1.0)
        raise RuntimeFailure(
            f"worker {handle.name!r} (pid {handle.pid}) exited with code "
            f"{handle.returncode} before it was ready (first stdout line "
            f"{line!r}); stderr tail:\n{handle.stderr_tail or '(empty)'}"
        )

    async def _drain_stderr(self, handle: WorkerHandle) -> None:
        stream = handle.process.stderr
        assert stream is not None
        while line := await stream.readline():
            handle._stderr.append(line.decode(errors="replace"))

    async def _watch(self, handle: WorkerHandle) -> None:
        returncode = await handle.process.wait()
        handle.exit_time = time.monotonic()
        handle.returncode = returncode
        handle.exited.set()
        logger.info("%s exited with code %d", handle.describe(), returncode)

    # -- signals and stopping -------------------------------------------------

    def kill(self, handle: WorkerHandle, sig: int = signal.SIGKILL) -> float:
        """Send `sig` to the worker.

        Parameters
        ----------
        handle : WorkerHandle
            The worker.
        sig : int, default=signal.SIGKILL
            Signal number.

        Returns
        -------
        float
            ``time.monotonic()`` right before the signal was sent.

        Raises
        ------
        RuntimeFailure
            If the worker has already exited.
        """
        if not handle.alive:
            raise RuntimeFailure(
                f"cannot signal {handle.describe()}: it already exited with code "
                f"{handle.returncode}"
            )
        injected = time.monotonic()
        try:
            os.kill(handle.pid, sig)
        except ProcessLookupError as err:
            raise RuntimeFailure(
                f"cannot signal {handle.describe()}: the process is gone"
            ) from err
        return injected

    def _signal_group(self, handle: WorkerHandle, sig: int) -> None:
        if handle.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(handle.pid, sig)

    async def _force_stop(self, handle: WorkerHandle) -> None:
        self._signal_group(handle, signal.SIGKILL)
        await handle.exited.wait()

    async def stop(self, handle: WorkerHandle, grace: float = 2.0) -> int:
        """Stop one worker: SIGTERM, then SIGKILL after `grace` seconds.

        Parameters
        ----------
        handle : WorkerHandle
            The worker.
        grace : float, default=2.0
            Seconds between SIGTERM and SIGKILL.

        Returns
        -------
        int
            The worker's exit status.
        """
        if _is_stopped(handle.pid):
            # A hung (SIGSTOPped) worker cannot act on SIGTERM; resuming it
            # could let it serve again, so it is killed where it stands.
            await self._force_stop(handle)
        self._signal_group(handle, signal.SIGTERM)
        try:
            await asyncio.wait_for(handle.exited.wait(), grace)
        except TimeoutError:
            logger.info(
                "%s did not exit within %.1f s of SIGTERM; killing it",
                handle.describe(),
                grace,
            )
            await self._force_stop(handle)
        for task in handle._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task, 1.0)
        assert handle.returncode is not None
        return handle.returncode

    async def stop_all(self, grace: float = 2.0) -> None:
        """Stop and reap every worker this supervisor started.

        Parameters
        ----------
        grace : float, default=2.0
            Seconds between SIGTERM and SIGKILL.
        """
        await asyncio.gather(*(self.stop(h, grace) for h in self.handles))

    def kill_all_now(self) -> None:
        """Kill every worker's process group and reap it, without an event loop.

        A last resort for ``finally`` blocks and test fixtures, when the loop
        that started the workers is gone.
        """
        for handle in self.handles:
            if handle.returncode is not None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(handle.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(handle.pid, 0)

    # -- talking to workers ---------------------------------------------------

    async def call(
        self, handle: WorkerHandle, msg: dict[str, Any], timeout: float = 2.0
    ) -> dict[str, Any]:
        """Send one request to a worker and return its successful reply.

        Parameters
        ----------
        handle : WorkerHandle
            The worker.
        msg : dict
            The request.
        timeout : float, default=2.0
            Seconds for connecting and for the reply, each.

        Returns
        -------
        dict
            The reply, whose ``ok`` is true.

        Raises
        ------
        RuntimeFailure
            If the worker has exited, cannot be reached, or replies with an
            error.
        """
        op = msg.get("op")
        if not handle.alive:
            raise RuntimeFailure(
                f"cannot send {op!r} to {handle.describe()}: it exited with code "
                f"{handle.returncode}; choose another worker or escalate"
            )
        conn = await Connection.open(handle.port, timeout)
        try:
            reply = await conn.request(msg, timeout)
        except RuntimeFailure as err:
            raise RuntimeFailure(
                f"{op!r} to {handle.describe()} failed: {err}"
            ) from err
        finally:
            conn.close()
        if not reply.get("ok"):
            raise RuntimeFailure(
                f"{handle.describe()} refused {op!r}: {reply.get('error')}: "
                f"{reply.get('detail')}"
            )
        return reply

    async def promote(
        self,
        handle: WorkerHandle,
        epoch: int,
        timeout: float = 2.0,
        *,
        lease_until: float | None = None,
    ) -> dict[str, Any]:
        """Promote a standby to primary with `epoch`.

        Parameters
        ----------
        handle : WorkerHandle
            The standby.
        epoch : int
            New epoch; must exceed the standby's.
        timeout : float, default=2.0
            Seconds to wait.
        lease_until : float, optional
            ``time.monotonic()`` until which the new primary holds its lease.

        Returns
        -------
        dict
            ``{ok, epoch, seq, name}``.

        Raises
        ------
        RuntimeFailure
            If the standby is gone or refuses; escalate to another tier.
        """
        msg: dict[str, Any] = {"op": "promote", "epoch": epoch}
        if lease_until is not None:
            msg["lease_until"] = lease_until
        try:
            reply = await self.call(handle, msg, timeout)
        except RuntimeFailure as err:
            raise RuntimeFailure(
                f"cannot promote {handle.describe()} to epoch {epoch}: {err}"
            ) from err
        handle.role, handle.epoch = "primary", epoch
        return reply

    async def attach(
        self,
        primary: WorkerHandle,
        standby: WorkerHandle,
        kind: str,
        *,
        interval: float = 0.05,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Attach `standby` to `primary` as a hot or warm standby.

        Parameters
        ----------
        primary, standby : WorkerHandle
            The workers.
        kind : {"hot", "warm"}
            Synchronous or asynchronous replication.
        interval : float, default=0.05
            Seconds between shipments to a warm standby.
        timeout : float, default=5.0
            Seconds to wait for the snapshot to be installed.

        Returns
        -------
        dict
            ``{ok, seq, epoch}`` from the primary.
        """
        msg = {"op": "attach", "kind": kind, "port": standby.port}
        msg |= {"interval": interval, "timeout": timeout}
        return await self.call(primary, msg, timeout + 1.0)

    async def dump(self, handle: WorkerHandle, timeout: float = 5.0) -> dict[str, Any]:
        """Return a worker's ``dump`` reply: ``{ok, data, seq, epoch}``."""
        return await self.call(handle, {"op": "dump"}, timeout)


def _is_stopped(pid: int) -> bool:
    """Whether process `pid` is stopped by a signal (state ``T`` in /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return bool(fields) and fields[0] in ("T", "t")
