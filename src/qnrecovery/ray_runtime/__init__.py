"""The Ray runtime: replicas as Ray actors, placed by the placer, recovered
by the orchestrator's own heartbeats and leases.

Nothing here imports Ray until it is used; without the ``ray`` extra every
entry point raises :class:`~qnrecovery.exceptions.ConfigError` naming it
(``pip install "qnrecovery[ray]"``).

=========================  ==================================================
``run_ray_drill``          a drill on a local or existing Ray cluster
``format_ray_report``      its report as text for a terminal
``RayCluster``             a started or joined cluster, seen as hosts
``RayKVService``           the key-value service as actors, and its controller
``KVStore``                one replica (wrapped with ``ray.remote``)
``gram_blocks_on_ray``     exact kernel Gram blocks as Ray tasks
``measure_ray_restart``    Ray's own actor restart after SIGKILL, timed
=========================  ==================================================
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "RAY_EXTRA",
    "RAY_FAULT_KINDS",
    "KVStore",
    "RayCluster",
    "RayKVService",
    "format_ray_report",
    "gram_blocks_local",
    "gram_blocks_on_ray",
    "join_ray",
    "measure_ray_restart",
    "require_ray",
    "run_ray_drill",
]

_WHERE = {
    "RAY_EXTRA": "_extra",
    "require_ray": "_extra",
    "join_ray": "_extra",
    "RAY_FAULT_KINDS": "drill",
    "run_ray_drill": "drill",
    "format_ray_report": "drill",
    "measure_ray_restart": "drill",
    "RayCluster": "cluster",
    "RayKVService": "service",
    "KVStore": "store",
    "gram_blocks_local": "gram",
    "gram_blocks_on_ray": "gram",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
