"""Fault injection, leases and fencing in the worker and the router."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Callable

import pytest

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.runtime.faults import (
    FAULT_KINDS,
    inject,
    inject_hang,
    inject_many,
    inject_slow,
    inject_standby_death,
    parse_fault_kinds,
    resume,
)
from qnrecovery.runtime.protocol import Connection
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]


async def raw(handle: WorkerHandle, msg: dict, timeout: float = 2.0) -> dict:
    conn = await Connection.open(handle.port, timeout)
    try:
        return await conn.request(msg, timeout)
    finally:
        conn.close()


def put(key: str, epoch: int = 1) -> dict:
    return {"op": "put", "key": key, "value": key.upper(), "epoch": epoch}


def test_fault_kinds_parse_and_refuse_unknown_names() -> None:
    assert FAULT_KINDS == (
        "kill",
        "hang",
        "slow",
        "standby-death",
        "cascade",
        "concurrent",
    )
    assert parse_fault_kinds("kill, hang,kill") == ["kill", "hang"]
    assert parse_fault_kinds(["slow"]) == ["slow"]
    with pytest.raises(ConfigError, match=r"selection of kill, hang.*'kill,explode'"):
        parse_fault_kinds("kill,explode")
    with pytest.raises(ConfigError, match="got ''"):
        parse_fault_kinds("")


def test_an_expired_lease_refuses_reads_and_writes_until_renewed(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1, extra_args=("--lease", "0.3"))
        assert (await raw(primary, put("a")))["ok"]
        await asyncio.sleep(0.4)

        refused = await raw(primary, put("b"))
        assert (
            refused["error"] == "lease-expired" and "lease ran out" in refused["detail"]
        )
        read = await raw(primary, {"op": "get", "key": "a", "epoch": 1})
        assert read["error"] == "lease-expired"

        renew = {"op": "ping", "lease_until": time.monotonic() + 5.0}
        assert (await raw(primary, renew))["ok"]
        assert (await raw(primary, put("b")))["ok"]
        assert (await sup.dump(primary))["data"] == {"a": "A", "b": "B"}

    run_with_supervisor(scenario)


def test_slow_fault_delays_every_request_until_lifted(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        await inject_slow(sup, primary, 0.2)
        started = time.monotonic()
        assert (await raw(primary, {"op": "ping"}))["ok"]
        assert time.monotonic() - started >= 0.2

        await sup.call(primary, {"op": "slow", "delay": 0.0})
        started = time.monotonic()
        await raw(primary, {"op": "ping"})
        assert time.monotonic() - started < 0.15
        bad = await raw(primary, {"op": "slow", "delay": -1})
        assert bad["error"] == "bad-request" and "delay" in bad["detail"]

    run_with_supervisor(scenario)


def test_hot_standby_answers_standby_reads_of_its_epoch_only(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(primary, hot, "hot")
        await sup.call(primary, put("x"))

        read = {"op": "get", "key": "x", "epoch": 1, "standby": True}
        reply = await raw(hot, read)
        assert reply["value"] == "X" and reply["standby"] and reply["name"] == "kv-b"
        assert (await raw(hot, read | {"epoch": 2}))["error"] == "stale-epoch"
        # Without the flag a standby still refuses reads.
        assert (await raw(hot, read | {"standby": False}))["error"] == "not-primary"

    run_with_supervisor(scenario)


def test_router_drops_a_stale_reply_of_a_revived_primary(
    run_with_supervisor: Runner,
) -> None:
    """A paused primary answers after the switch; the client never sees it."""

    async def scenario(sup: Supervisor) -> None:
        old = await sup.spawn("kv-a", "primary", 1)
        new = await sup.spawn("kv-b", "warm", 1)
        async with Router(deadline=3.0) as router:
            router.switch("kv", old.port, 1, old.name)
            inject_hang(sup, old)
            pending = asyncio.create_task(
                router.request({"op": "put", "component": "kv", "key": "k", "value": 1})
            )
            await asyncio.sleep(0.2)
            await sup.promote(new, 2)
            router.switch("kv", new.port, 2, new.name)
            with pytest.raises(
                RuntimeFailure, match=r"at epoch 1 refused.*already at epoch 2"
            ):
                router.switch("kv", old.port, 1, old.name)
            assert resume(sup, old) is not None

            reply = await pending
            assert reply["ok"] and (reply["name"], reply["epoch"]) == ("kv-b", 2)
            assert router.stats["kv"].stale_replies + router.stats["kv"].retried >= 1
            assert (await sup.dump(new))["data"] == {"k": 1}

    run_with_supervisor(scenario)


def test_standby_death_kills_both_and_many_kills_at_an_interval(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        handles = [await sup.spawn(f"kv-{i}", "warm", 1) for i in range(5)]
        first, second = inject_standby_death(sup, handles[0], handles[1])
        assert first <= second
        times = await inject_many(sup, handles[2:], interval_s=0.05)
        assert None not in times
        assert times[2] - times[0] >= 0.1  # type: ignore[operator]
        for handle in handles:
            await handle.exited.wait()
            assert handle.returncode == -signal.SIGKILL
        assert await inject_many(sup, handles[:1]) == [None]
        with pytest.raises(ConfigError, match="not a one-signal fault"):
            inject("cascade", sup, handles[0])
        with pytest.raises(ConfigError, match="must be one of"):
            inject("meteor", sup, handles[0])

    run_with_supervisor(scenario)


def test_worker_on_a_port_in_use_fails_to_start_with_a_clear_error(
    run_with_supervisor: Runner,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        async def scenario(sup: Supervisor) -> None:
            with pytest.raises(RuntimeFailure, match=r"code 4(.|\n)*in use"):
                await sup.spawn("kv-a", "primary", 1, port=port)
            assert all(h.returncode == 4 for h in sup.handles)

        run_with_supervisor(scenario)


def test_worker_that_exits_at_start_up_is_reported_and_reaped() -> None:
    async def scenario() -> None:
        sup = Supervisor(python="/bin/false")
        try:
            with pytest.raises(RuntimeFailure, match="exited with code 1 before"):
                await sup.spawn("kv-a", "primary", 1)
            assert sup.handles[0].returncode == 1
        finally:
            sup.kill_all_now()

    asyncio.run(scenario())


def test_worker_that_never_becomes_ready_is_killed_and_reaped(tmp_path) -> None:
    script = tmp_path / "stuck-python"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)

    async def scenario() -> None:
        sup = Supervisor(python=str(script))
        try:
            with pytest.raises(
                RuntimeFailure, match=r"did not print READY within 0.5 s"
            ):
                await sup.spawn("kv-a", "hot", 1, ready_timeout=0.5)
            handle = sup.handles[0]
            assert not handle.alive and handle.returncode == -signal.SIGKILL
        finally:
            sup.kill_all_now()

    asyncio.run(scenario())


def test_stopping_a_hung_worker_kills_it_without_resuming_it(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        inject_hang(sup, primary)
        await asyncio.sleep(0.05)

        started = time.monotonic()
        status = await sup.stop(primary, grace=5.0)

        # Killed where it stood: no wait for the grace period, no SIGTERM exit.
        assert time.monotonic() - started < 2.0
        assert status == -signal.SIGKILL

    run_with_supervisor(scenario)


def test_a_request_stuck_at_a_hung_primary_moves_on_when_the_route_switches(
    run_with_supervisor: Runner,
) -> None:
    """The client is answered by the new primary, not after the attempt time-out."""

    async def scenario(sup: Supervisor) -> None:
        old = await sup.spawn("kv-a", "primary", 1)
        new = await sup.spawn("kv-b", "warm", 1)
        async with Router(deadline=10.0, attempt_timeout=5.0) as router:
            router.switch("kv", old.port, 1, old.name)
            inject_hang(sup, old)
            pending = asyncio.create_task(
                router.request({"op": "put", "component": "kv", "key": "k", "value": 1})
            )
            await asyncio.sleep(0.1)
            assert not pending.done()

            await sup.promote(new, 2)
            switched = time.monotonic()
            router.switch("kv", new.port, 2, new.name)
            reply = await asyncio.wait_for(pending, 2.0)

            assert time.monotonic() - switched < 1.0
            assert reply["ok"] and (reply["name"], reply["epoch"]) == ("kv-b", 2)
            assert (await sup.dump(new))["data"] == {"k": 1}

    run_with_supervisor(scenario)
