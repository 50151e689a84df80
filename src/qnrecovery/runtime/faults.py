"""Fault injection into worker processes.

=================  ===========================================================
kind               what happens
=================  ===========================================================
``kill``           the primary is crashed with SIGKILL
``hang``           the primary is paused with SIGSTOP and, later, resumed
                   with SIGCONT (:func:`resume`); the revived process must be
                   fenced by then
``slow``           every request to the primary waits ``delay`` seconds (the
                   worker's ``slow`` control operation)
``standby-death``  the primary is killed and, right after, the standby the
                   recovery would use, so the recovery has to escalate
``cascade``        several components' primaries are killed one after the
                   other, ``interval`` seconds apart
``concurrent``     primaries of components of different tiers are killed at
                   the same instant
=================  ===========================================================

Every injector returns the ``time.monotonic()`` of each injection, from which
recoveries are timed. Choosing the targets (which standby, which other
components) is the caller's business; this module only signals processes.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle

__all__ = [
    "FAULT_KINDS",
    "inject",
    "inject_hang",
    "inject_kill",
    "inject_many",
    "inject_slow",
    "inject_standby_death",
    "parse_fault_kinds",
    "resume",
]

#: Fault kinds this module injects.
FAULT_KINDS = ("kill", "hang", "slow", "standby-death", "cascade", "concurrent")

#: Kinds that hit one worker and :func:`inject` accepts.
SINGLE_KINDS = ("kill", "hang")


def inject_kill(supervisor: Supervisor, handle: WorkerHandle) -> float:
    """Crash a worker with SIGKILL.

    Parameters
    ----------
    supervisor : Supervisor
        The worker's supervisor, which reaps it.
    handle : WorkerHandle
        The worker.

    Returns
    -------
    float
        ``time.monotonic()`` of the injection.

    Raises
    ------
    RuntimeFailure
        If the worker already exited.
    """
    return supervisor.kill(handle, signal.SIGKILL)


def inject_hang(supervisor: Supervisor, handle: WorkerHandle) -> float:
    """Pause a worker with SIGSTOP; it keeps its sockets but answers nothing.

    Returns
    -------
    float
        ``time.monotonic()`` of the injection.

    Raises
    ------
    RuntimeFailure
        If the worker already exited.
    """
    return supervisor.kill(handle, signal.SIGSTOP)


def resume(supervisor: Supervisor, handle: WorkerHandle) -> float | None:
    """Resume a paused worker with SIGCONT.

    Returns
    -------
    float or None
        ``time.monotonic()`` of the signal, or ``None`` if the worker had
        exited meanwhile (nothing to resume).
    """
    if not handle.alive:
        return None
    try:
        return supervisor.kill(handle, signal.SIGCONT)
    except RuntimeFailure:
        return None


async def inject_slow(
    supervisor: Supervisor, handle: WorkerHandle, delay_s: float = 0.25
) -> float:
    """Make every later request to a worker wait `delay_s` seconds.

    Parameters
    ----------
    supervisor : Supervisor
        The worker's supervisor.
    handle : WorkerHandle
        The worker.
    delay_s : float, default=0.25
        Added latency per request, in seconds; 0 ends the slowness.

    Returns
    -------
    float
        ``time.monotonic()`` right before the control request was sent.

    Raises
    ------
    RuntimeFailure
        If the worker has exited or refuses.
    """
    injected = time.monotonic()
    await supervisor.call(handle, {"op": "slow", "delay": delay_s}, timeout=1.0)
    return injected


def inject_standby_death(
    supervisor: Supervisor, primary: WorkerHandle, standby: WorkerHandle
) -> tuple[float, float]:
    """Kill a primary and, right after, the standby that would replace it.

    The standby dies before the recovery engine can promote it, so the
    recovery must escalate to the next standby kind.

    Returns
    -------
    tuple of float
        ``time.monotonic()`` of the primary's and of the standby's kill.

    Raises
    ------
    RuntimeFailure
        If the primary already exited.
    """
    first = inject_kill(supervisor, primary)
    try:
        second = inject_kill(supervisor, standby)
    except RuntimeFailure:
        second = first
    return first, second


async def inject_many(
    supervisor: Supervisor,
    handles: Sequence[WorkerHandle],
    interval_s: float = 0.0,
    on_kill: Callable[[int, float], None] | None = None,
) -> list[float | None]:
    """Kill several workers, `interval_s` seconds apart (0: at once).

    A cascade uses a positive interval; concurrent faults use 0, which sends
    every signal back to back from one event-loop step. ``on_kill(index,
    time)`` is called right after each kill, before the next one (tell the
    recovery engine there, before its detector sees the exit).

    Returns
    -------
    list of float or None
        Injection time of each worker, ``None`` for one that had exited.
    """
    if interval_s < 0:
        raise ConfigError(f"interval_s of inject_many must be >= 0; got {interval_s}")
    times: list[float | None] = []
    for i, handle in enumerate(handles):
        if i and interval_s > 0:
            await asyncio.sleep(interval_s)
        try:
            when = inject_kill(supervisor, handle)
        except RuntimeFailure:
            times.append(None)
            continue
        times.append(when)
        if on_kill is not None:
            on_kill(i, when)
    return times


def inject(kind: str, supervisor: Supervisor, handle: WorkerHandle) -> float:
    """Inject a one-worker fault of `kind` (``kill`` or ``hang``).

    Parameters
    ----------
    kind : {"kill", "hang"}
        The fault.
    supervisor : Supervisor
        The worker's supervisor.
    handle : WorkerHandle
        The worker.

    Returns
    -------
    float
        ``time.monotonic()`` of the injection.

    Raises
    ------
    ConfigError
        If `kind` is unknown, or needs more than one worker or a running
        event loop (use its own function then).
    """
    if kind == "kill":
        return inject_kill(supervisor, handle)
    if kind == "hang":
        return inject_hang(supervisor, handle)
    if kind in FAULT_KINDS:
        raise ConfigError(
            f"fault kind {kind!r} is not a one-signal fault; use inject_slow, "
            "inject_standby_death or inject_many"
        )
    raise ConfigError(f"fault kind must be one of {FAULT_KINDS}; got {kind!r}")


def parse_fault_kinds(text: str | Sequence[str]) -> list[str]:
    """Parse ``"kill,hang"`` (or a list of names) into known fault kinds.

    Raises
    ------
    ConfigError
        If a name is unknown or the selection is empty.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    kinds = [n.strip() for n in names if n.strip()]
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise ConfigError(
            f"faults must be a comma-separated selection of {', '.join(FAULT_KINDS)}; "
            f"got {text!r}"
        )
    return list(dict.fromkeys(kinds))
