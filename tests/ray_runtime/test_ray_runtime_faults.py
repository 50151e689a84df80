"""Faults on a three-node Ray cluster: the standby on another node takes over
and every acknowledged write stays readable.

Each test starts its own components on the module's cluster; node faults add a
replacement node afterwards so the next test still has three hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np
import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(300)]

COMPONENTS = [("uc", "ultra-critical"), ("crit", "critical")]


async def _write(service: Any, name: str, start: int, count: int) -> dict[str, int]:
    """Write `count` keys, retrying each until acknowledged; return the acks."""
    acked: dict[str, int] = {}
    for i in range(start, start + count):
        key = f"{name}/{i}"
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            reply = await service.put(name, key, i)
            if reply.get("ok"):
                acked[key] = i
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"{key} was never acknowledged")
    return acked


async def _writer(service: Any, name: str, acked: dict[str, int], stop: Any) -> None:
    """Background writes while a fault happens, so writes are in flight."""
    i = 10_000
    while not stop.is_set():
        key = f"{name}/{i}"
        reply = await service.put(name, key, i)
        if reply.get("ok"):
            acked[key] = i
            i += 1
        await asyncio.sleep(0.02)


async def _unreadable(service: Any, name: str, acked: dict[str, int]) -> list[str]:
    """Keys whose acknowledged value the current primary does not return."""
    missing = []
    for key, value in acked.items():
        deadline = time.monotonic() + 60.0
        while True:
            reply = await service.get(name, key)
            if reply.get("ok") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        assert reply.get("ok"), f"no primary of {name} answered a read: {reply}"
        if reply.get("value") != value:
            missing.append(key)
    return missing


async def _wait(recs: list[Any], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(r.promoted_ms is None for r in recs):
        await asyncio.sleep(0.01)


class _Run:
    """A service on the shared cluster, with a writer on every component."""

    def __init__(self, cluster: Any, loop: Any) -> None:
        from qnrecovery.ray_runtime.service import RayKVService

        self.loop = loop
        self.service = RayKVService(
            cluster, COMPONENTS, heartbeat_s=0.025, misses=4, request_timeout=0.5
        )
        loop.run(self.service.start(), timeout=240)
        self.acked: dict[str, dict[str, int]] = {}
        for name, _ in COMPONENTS:
            self.acked[name] = loop.run(_write(self.service, name, 0, 20))
        self.stop: asyncio.Event | None = None

    def start_writers(self) -> None:
        async def go() -> None:
            self.stop = asyncio.Event()
            for name, _ in COMPONENTS:
                asyncio.get_running_loop().create_task(
                    _writer(self.service, name, self.acked[name], self.stop)
                )

        self.loop.run(go())

    def run(self, coro: Any, timeout: float = 120.0) -> Any:
        """Run `coro` on the loop; on failure stop the service, then re-raise."""
        try:
            return self.loop.run(coro, timeout=timeout)
        except Exception:
            self.finish()
            raise

    def finish(self) -> dict[str, list[str]]:
        async def go() -> dict[str, list[str]]:
            if self.stop is not None:
                self.stop.set()
            await asyncio.sleep(0.1)
            for name, _ in COMPONENTS:
                self.acked[name].update(await _write(self.service, name, 100, 10))
            return {
                name: await _unreadable(self.service, name, self.acked[name])
                for name, _ in COMPONENTS
            }

        try:
            return self.loop.run(go(), timeout=240)
        finally:
            self.loop.run(self.service.stop())


def _check_takeover(rec: Any, old: Any) -> None:
    assert rec.strategy == "hot", rec.as_dict()
    assert rec.new_primary["host"] != old.host
    assert rec.new_primary["node_id"] and rec.new_primary["node_id"] != old.node_id


async def _crash(replica: Any) -> None:
    # Not awaited: the call cannot be answered, the process is gone.
    replica.handle.crash.remote()


async def _break_pings(replica: Any) -> None:
    await replica.handle.break_pings.remote()


def _fault_on_primary(
    run: _Run, name: str, kind: str, inject: Any, wait_s: float = 60.0
) -> tuple[Any, Any]:
    """With writers running, `inject` a fault into `name`'s primary and wait
    for a standby to take over; return the old primary and the record."""
    old = run.service.components[name].primary
    run.start_writers()
    time.sleep(0.3)

    async def go() -> Any:
        rec = run.service.fault_injected(name, kind, time.monotonic())
        await inject(old)
        await _wait([rec], timeout=wait_s)
        return rec

    return old, run.run(go())


def test_kill_primary_process(ray_cluster: Any, loop_thread: Any) -> None:
    run = _Run(ray_cluster, loop_thread)

    old, rec = _fault_on_primary(run, "uc", "kill", _crash)
    lost = run.finish()

    _check_takeover(rec, old)
    assert rec.recovery_ms is not None
    assert lost == {"uc": [], "crit": []}
    assert len(run.acked["uc"]) > 30


def test_a_write_during_failover_reaches_the_new_primary(
    ray_cluster: Any, loop_thread: Any
) -> None:
    """The write that finds the primary dead is not refused: the router holds
    it through the failover and the promoted hot standby acknowledges it."""
    run = _Run(ray_cluster, loop_thread)
    comp = run.service.components["crit"]
    old, old_epoch = comp.primary, comp.epoch

    async def kill_then_write() -> tuple[Any, dict[str, Any]]:
        rec = run.service.fault_injected("crit", "kill", time.monotonic())
        with contextlib.suppress(Exception):
            # The call cannot be answered: the process is gone when it fails.
            await asyncio.wait_for(old.handle.crash.remote(), 30.0)
        reply = await run.service.put("crit", "crit/after-kill", 7)
        return rec, reply

    rec, reply = run.run(kill_then_write())
    if reply.get("ok"):
        run.acked["crit"]["crit/after-kill"] = 7
    lost = run.finish()

    assert reply.get("ok"), reply
    assert reply["epoch"] > old_epoch
    _check_takeover(rec, old)
    assert lost == {"uc": [], "crit": []}


def test_writes_held_through_a_stall_are_acknowledged(
    ray_cluster: Any, loop_thread: Any
) -> None:
    """A primary that stops answering for longer than a lease is suspected,
    and the router holds the writes that arrive while it is. Whether the
    primary then answers its last ping (a false alarm) or its hot standby
    takes over, every held write is acknowledged by a primary with a valid
    lease, and none is lost."""
    run = _Run(ray_cluster, loop_thread)
    comp = run.service.components["crit"]
    lease_s = run.service.lease_s

    async def stall_and_write(rnd: int) -> list[dict[str, Any]]:
        comp.primary.handle.stall.remote(1.6 * lease_s)
        deadline = time.monotonic() + 10.0
        while not comp.failing:
            assert time.monotonic() < deadline, "the stall was never suspected"
            await asyncio.sleep(0.002)
        keys = [f"crit/stall-{rnd}-{i}" for i in range(10)]
        replies = await asyncio.gather(
            *(run.service.put("crit", key, i) for i, key in enumerate(keys))
        )
        for key, i, reply in zip(keys, range(10), replies, strict=True):
            if reply.get("ok"):
                run.acked["crit"][key] = i
        await asyncio.sleep(4 * lease_s)
        return list(replies)

    replies = [reply for rnd in range(3) for reply in run.run(stall_and_write(rnd))]
    lost = run.finish()

    refused = [r for r in replies if not r.get("ok")]
    assert refused == [], refused
    assert lost == {"uc": [], "crit": []}


def test_a_primary_whose_pings_fail_is_replaced(
    ray_cluster: Any, loop_thread: Any
) -> None:
    """Pings that raise are misses: the primary is suspected within a lease
    or so and its hot standby takes over."""
    run = _Run(ray_cluster, loop_thread)

    old, rec = _fault_on_primary(run, "crit", "pings", _break_pings, wait_s=20.0)
    lost = run.finish()

    assert rec.promoted_ms is not None, "the primary was never replaced"
    _check_takeover(rec, old)
    assert rec.detected_by == "heartbeat"
    assert lost == {"uc": [], "crit": []}


def test_a_dropped_hot_standby_the_primary_still_feeds_is_detached(
    ray_cluster: Any, loop_thread: Any
) -> None:
    """The controller forgot a hot standby but its detach never reached the
    primary; when that standby then misses a record, the primary refuses
    writes until the controller detaches it again, which it does."""
    run = _Run(ray_cluster, loop_thread)
    comp = run.service.components["crit"]
    hot = next(sb for sb in comp.standbys if sb.kind == "hot")

    async def forget_then_stall() -> dict[str, Any]:
        comp.standbys.remove(hot)
        hot.handle.stall.remote(3 * run.service.hot_timeout)
        first = await run.service.put("crit", "crit/while-stalled", 1)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            reply = await run.service.put("crit", "crit/after", 2)
            if reply.get("ok"):
                run.acked["crit"]["crit/after"] = 2
                return {"first": first, "after": reply}
            await asyncio.sleep(0.05)
        return {"first": first, "after": reply}

    replies = run.run(forget_then_stall())
    lost = run.finish()

    assert not replies["first"].get("ok"), replies["first"]
    assert replies["after"].get("ok"), replies["after"]
    assert lost == {"uc": [], "crit": []}


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "hard"])
def test_remove_node(ray_cluster: Any, loop_thread: Any, graceful: bool) -> None:
    run = _Run(ray_cluster, loop_thread)
    comp = run.service.components["uc"]
    old, host = comp.primary, comp.primary.host
    victims = [n for n, c in run.service.components.items() if c.primary.host == host]
    run.start_writers()
    time.sleep(0.3)

    recs = loop_thread.run(_mark(run.service, victims))
    at = time.monotonic()
    for rec in recs:
        rec.fault_time = at
    ray_cluster.remove_node(host, graceful=graceful)
    loop_thread.run(_wait(recs), timeout=120)
    still_alive = not graceful and not ray_cluster.node_declared_dead(host)
    try:
        lost = run.finish()
    finally:
        ray_cluster.add_node()
        ray_cluster.wait_for_nodes()

    _check_takeover(recs[0], old)
    if not graceful:
        # The takeover did not wait for Ray: the node was still listed alive.
        assert recs[0].detected_by == "heartbeat"
        assert still_alive
    assert lost == {"uc": [], "crit": []}


async def _mark(service: Any, names: list[str]) -> list[Any]:
    return [service.fault_injected(n, "node", time.monotonic()) for n in names]


def test_primary_on_a_returning_node_cannot_acknowledge(
    ray_cluster: Any, loop_thread: Any
) -> None:
    run = _Run(ray_cluster, loop_thread)
    comp = run.service.components["uc"]
    old, old_epoch, host = comp.primary, comp.epoch, comp.primary.host
    victims = [n for n, c in run.service.components.items() if c.primary.host == host]
    run.start_writers()
    time.sleep(0.3)
    recs = loop_thread.run(_mark(run.service, victims))
    at = time.monotonic()
    for rec in recs:
        rec.fault_time = at
    ray_cluster.pause_node(host)
    try:
        loop_thread.run(_wait(recs), timeout=120)
    finally:
        ray_cluster.resume_node(host)

    async def stale_write() -> dict[str, Any]:
        return await old.handle.put.remote("uc/stale", -1, old_epoch)

    reply = loop_thread.run(stale_write(), timeout=120)
    lost = run.finish()

    _check_takeover(recs[0], old)
    assert reply["ok"] is False
    assert reply["error"] in ("lease-expired", "stale-epoch")
    assert lost == {"uc": [], "crit": []}
    assert run.service.components["uc"].epoch > old_epoch


def test_gram_blocks_on_ray_equal_the_local_result(ray_cluster: Any) -> None:
    from qnrecovery.ray_runtime.gram import gram_blocks_local, gram_blocks_on_ray

    rng = np.random.default_rng(3)
    a = rng.normal(size=(23, 16)) + 1j * rng.normal(size=(23, 16))
    b = rng.normal(size=(11, 16)) + 1j * rng.normal(size=(11, 16))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)

    on_ray = gram_blocks_on_ray(a, b, 5)

    assert np.array_equal(on_ray, gram_blocks_local(a, b, 5))
    overlap = a @ b.conj().T
    np.testing.assert_allclose(on_ray, np.abs(overlap) ** 2, rtol=0, atol=1e-12)
