"""Fixtures of the Ray runtime tests: one small local cluster per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """Three simulated nodes (one CPU, 100 MiB object store each), shut down
    at the end of the module whatever happens."""
    pytest.importorskip("ray")
    from qnrecovery.ray_runtime.cluster import RayCluster

    cluster = RayCluster.local(3, num_cpus=1, object_store_mb=100)
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[Any]:
    """An asyncio loop in a thread, where the controller runs."""
    from qnrecovery.ray_runtime.loop import LoopThread

    with LoopThread() as loop:
        yield loop


@pytest.fixture
def no_ray_session_left() -> Iterator[None]:
    """Shut down the Ray session a test started (tests that use it must not
    share a module-scoped cluster)."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
