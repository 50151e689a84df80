"""Real managed components: worker processes, router, client load, faults.

The reference workload is a small replicated key-value service whose workers
are OS processes on 127.0.0.1. Names are imported lazily, so a worker process
(``python -m qnrecovery.runtime.worker``) loads only what it uses.

=====================  ==================================================
``Supervisor``         starts, signals and reaps workers
``WorkerHandle``       one started worker
``Router``             sends client requests to each component's primary
``ClientLoad``         writes and reads through the router, with a ledger
``inject_kill``        crash a worker; ``faults`` holds every kind of
                       ``FAULT_KINDS``
=====================  ==================================================
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FAULT_KINDS",
    "ClientLoad",
    "Connection",
    "Router",
    "Supervisor",
    "WorkerHandle",
    "inject",
    "inject_hang",
    "inject_kill",
    "inject_many",
    "inject_slow",
    "inject_standby_death",
    "resume",
]

_WHERE = {
    "FAULT_KINDS": "faults",
    "inject": "faults",
    "inject_kill": "faults",
    "inject_hang": "faults",
    "inject_many": "faults",
    "inject_slow": "faults",
    "inject_standby_death": "faults",
    "resume": "faults",
    "ClientLoad": "load",
    "Connection": "protocol",
    "Router": "router",
    "Supervisor": "supervisor",
    "WorkerHandle": "supervisor",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
