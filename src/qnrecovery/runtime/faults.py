"""Fault injection into worker processes.

Only a crash (``"kill"``, SIGKILL) is implemented; every injector returns the
``time.monotonic()`` of the injection, from which a drill times the recovery.
"""

from __future__ import annotations

import signal

from qnrecovery.exceptions import ConfigError
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle

__all__ = ["FAULT_KINDS", "inject", "inject_kill"]

#: Fault kinds :func:`inject` knows.
FAULT_KINDS = ("kill",)


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


def inject(kind: str, supervisor: Supervisor, handle: WorkerHandle) -> float:
    """Inject a fault of `kind` into a worker.

    Parameters
    ----------
    kind : str
        One of :data:`FAULT_KINDS`.
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
        If `kind` is unknown.
    """
    if kind == "kill":
        return inject_kill(supervisor, handle)
    raise ConfigError(f"fault kind must be one of {FAULT_KINDS}; got {kind!r}")
