"""Integration tests of the reference workload with real worker processes."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest

from qnrecovery.exceptions import PortInUseError, RuntimeFailure
from qnrecovery.runtime.faults import FAULT_KINDS, inject, inject_kill
from qnrecovery.runtime.load import ClientLoad
from qnrecovery.runtime.protocol import Connection, checksum
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle
from qnrecovery.runtime.worker import make_snapshot, write_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]


async def raw(handle: WorkerHandle, msg: dict) -> dict:
    """Send `msg` and return the reply, error replies included."""
    conn = await Connection.open(handle.port, 2.0)
    try:
        return await conn.request(msg, 2.0)
    finally:
        conn.close()


def record(seq: int, key: str, value: object, epoch: int) -> dict:
    rec = {"seq": seq, "key": key, "value": value, "epoch": epoch}
    return {"op": "replicate", **rec, "crc": checksum(rec)}


async def wait_first_answer(router: Router, component: str, epoch: int) -> float:
    for _ in range(500):
        answered = router.first_answer_after(component, epoch)
        if answered is not None:
            return answered
        await asyncio.sleep(0.01)
    raise AssertionError(f"no answer from epoch {epoch} of {component!r}")


def test_worker_ping_put_get(run_with_supervisor: Runner) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        assert primary.port > 0 and primary.alive

        pong = await sup.call(primary, {"op": "ping"})
        assert pong["name"] == "kv-a" and pong["role"] == "primary"
        assert (pong["epoch"], pong["seq"]) == (1, 0)

        put = await sup.call(primary, {"op": "put", "key": "x", "value": 7, "epoch": 1})
        assert put == {"ok": True, "seq": 1, "epoch": 1, "name": "kv-a"}
        got = await sup.call(primary, {"op": "get", "key": "x", "epoch": 1})
        assert got["value"] == 7 and got["name"] == "kv-a"
        missing = await sup.call(primary, {"op": "get", "key": "y", "epoch": 1})
        assert missing["value"] is None

        unknown = await raw(primary, {"op": "frobnicate"})
        assert unknown["error"] == "unknown-op"

    run_with_supervisor(scenario)


def test_worker_starts_from_snapshot(run_with_supervisor: Runner, tmp_path) -> None:
    path = str(tmp_path / "kv.snap")

    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        for i in range(5):
            msg = {"op": "put", "key": f"k{i}", "value": i, "epoch": 1}
            await sup.call(primary, msg)
        snap = await sup.call(primary, {"op": "snapshot", "path": path})
        assert snap["seq"] == 5

        cold = await sup.spawn("kv-cold", "warm", 1, snapshot=path)
        dump = await sup.dump(cold)
        assert dump["data"] == {f"k{i}": i for i in range(5)}
        assert dump["seq"] == 5

    run_with_supervisor(scenario)


def _corrupt_snapshot(tmp_path) -> str:
    path = str(tmp_path / "bad.snap")
    write_snapshot(path, make_snapshot({"k1": "v1"}, seq=1, epoch=1))
    with open(path) as fh:
        snap = json.load(fh)
    snap["data"]["k1"] = "tampered"
    with open(path, "w") as fh:
        json.dump(snap, fh)
    return path


def test_corrupt_snapshot_exits_with_code_3(tmp_path) -> None:
    path = _corrupt_snapshot(tmp_path)
    args = ["--name", "kv-c", "--role", "warm", "--epoch", "1", "--snapshot", path]
    proc = subprocess.run(
        [sys.executable, "-m", "qnrecovery.runtime.worker", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 3
    assert "checksum mismatch" in proc.stderr and path in proc.stderr
    assert "READY" not in proc.stdout


def test_spawn_reports_a_worker_that_dies_before_ready(
    run_with_supervisor: Runner, tmp_path
) -> None:
    path = _corrupt_snapshot(tmp_path)

    async def scenario(sup: Supervisor) -> None:
        with pytest.raises(RuntimeFailure, match=r"'kv-c'.*code 3(.|\n)*checksum"):
            await sup.spawn("kv-c", "warm", 1, snapshot=path)

    run_with_supervisor(scenario)


def test_hot_failover_loses_no_acknowledged_write(run_with_supervisor: Runner) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(primary, hot, "hot")

        async with Router() as router:
            router.switch("kv", primary.port, 1, primary.name)
            load = ClientLoad(router.port, ["kv"], rate=200.0)
            await load.start()
            await asyncio.sleep(0.4)

            await load.wait_write_in_flight("kv")
            injected = inject_kill(sup, primary)
            await primary.exited.wait()
            await sup.promote(hot, 2)
            router.switch("kv", hot.port, 2, hot.name)
            answered = await wait_first_answer(router, "kv", 2)
            await asyncio.sleep(0.2)

            result = await load.verify(lambda component: sup.dump(hot))

        kv = result["kv"]
        assert kv["acked_writes"] > 20
        assert kv["acked_writes_lost"] == 0, kv["lost_keys"]
        assert kv["read_mismatches"] == 0
        assert kv["write_rate"] > 0
        recovery = answered - injected
        assert math.isfinite(recovery) and recovery > 0
        assert primary.returncode == -signal.SIGKILL

    run_with_supervisor(scenario)


def test_warm_standby_ships_asynchronously_and_loss_is_counted(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        warm_fast = await sup.spawn("kv-w1", "warm", 1)
        warm_slow = await sup.spawn("kv-w2", "warm", 1)
        await sup.attach(primary, warm_fast, "warm", interval=0.02)
        # Ships its first record, then waits far longer than the test runs.
        await sup.attach(primary, warm_slow, "warm", interval=30.0)

        async with Router() as router:
            router.switch("kv", primary.port, 1, primary.name)
            load = ClientLoad(router.port, ["kv"], rate=200.0)
            await load.start()
            for _ in range(200):
                if (await sup.dump(warm_fast))["seq"] >= 10:
                    break
                await asyncio.sleep(0.01)
            assert (await sup.dump(warm_fast))["seq"] >= 10

            inject_kill(sup, primary)
            await primary.exited.wait()
            await sup.promote(warm_slow, 2)
            router.switch("kv", warm_slow.port, 2, warm_slow.name)
            await wait_first_answer(router, "kv", 2)
            result = await load.verify(lambda component: sup.dump(warm_slow))

        kv = result["kv"]
        assert 0 < kv["acked_writes_lost"] <= kv["acked_writes"]
        assert 0 < len(kv["lost_keys"]) <= 10

    run_with_supervisor(scenario)


def test_fencing_by_epoch(run_with_supervisor: Runner) -> None:
    async def scenario(sup: Supervisor) -> None:
        old = await sup.spawn("kv-a", "primary", 1)
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(old, hot, "hot")
        await sup.promote(hot, 2)

        # A put stamped with the new epoch is refused by the old primary.
        newer = await raw(old, {"op": "put", "key": "x", "value": 1, "epoch": 2})
        assert newer["error"] == "stale-epoch"

        # A put of the old epoch reaches the promoted standby, which refuses
        # the replication; the old primary fences itself, reads included.
        stale = await raw(old, {"op": "put", "key": "x", "value": 1, "epoch": 1})
        assert stale["ok"] is False and stale["error"] == "stale-epoch"
        read = await raw(old, {"op": "get", "key": "x", "epoch": 1})
        assert read["error"] == "stale-epoch"
        assert (await sup.dump(hot))["data"] == {}

        # A standby refuses records from an older epoch.
        standby = await sup.spawn("kv-c", "warm", 3)
        refused = await raw(standby, record(1, "x", 1, epoch=2))
        assert refused["error"] == "stale-epoch"
        assert (await raw(hot, record(1, "x", 1, epoch=1)))["error"] == "stale-epoch"

    run_with_supervisor(scenario)


def test_bad_checksum_is_refused(run_with_supervisor: Runner) -> None:
    async def scenario(sup: Supervisor) -> None:
        standby = await sup.spawn("kv-b", "hot", 1)
        rec = record(1, "x", "good", epoch=1) | {"value": "bad"}
        reply = await raw(standby, rec)
        assert reply["error"] == "bad-checksum"

        snap = make_snapshot({"x": 1}, seq=1, epoch=1) | {"crc": "00000000"}
        reply = await raw(standby, {"op": "install", "snapshot": snap})
        assert reply["error"] == "bad-checksum"
        assert (await sup.dump(standby))["seq"] == 0

        assert (await raw(standby, record(1, "x", "good", epoch=1)))["ok"]
        assert (await sup.dump(standby))["data"] == {"x": "good"}

    run_with_supervisor(scenario)


def test_router_port_in_use() -> None:
    async def scenario() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            port = sock.getsockname()[1]
            with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}.*in use"):
                await Router(port=port).start()

    asyncio.run(scenario())


def test_router_reports_unknown_component() -> None:
    async def scenario() -> None:
        async with Router(deadline=0.2) as router:
            reply = await router.request({"op": "get", "component": "nope", "key": "k"})
            assert reply["error"] == "no-route"

            router.switch("kv", 1, 1, "gone")  # nothing listens on port 1
            reply = await router.request({"op": "get", "component": "kv", "key": "k"})
            assert reply["error"] == "unavailable"
            assert router.stats["kv"].failed == 1
            assert router.first_answer_after("kv", 1) is None

    asyncio.run(scenario())


def test_promote_fails_when_the_standby_is_already_dead(
    run_with_supervisor: Runner,
) -> None:
    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn("kv-a", "primary", 1)
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(primary, hot, "hot")

        sup.kill(hot)
        await hot.exited.wait()
        # The primary detaches the dead standby and refuses the write, which
        # the dead standby lacks, until the standby is dropped.
        with pytest.raises(RuntimeFailure, match="hot-standby-lost"):
            put = {"op": "put", "key": "x", "value": 1, "epoch": 1}
            await sup.call(primary, put)
        pong = await sup.call(primary, {"op": "ping"})
        assert pong["standbys"]["hot"] == [] and pong["lost_hot"] == [hot.port]

        inject("kill", sup, primary)
        await primary.exited.wait()
        with pytest.raises(
            RuntimeFailure, match=r"cannot promote worker 'kv-b'.*exited with code"
        ):
            await sup.promote(hot, 2)
        with pytest.raises(RuntimeFailure, match="already exited"):
            inject_kill(sup, hot)

    assert FAULT_KINDS[0] == "kill"
    run_with_supervisor(scenario)


def test_stop_all_leaves_no_zombie(run_with_supervisor: Runner) -> None:
    pids: list[int] = []

    async def scenario(sup: Supervisor) -> None:
        handles = [await sup.spawn(f"kv-{i}", "warm", 1) for i in range(3)]
        pids.extend(h.pid for h in handles)
        sup.kill(handles[0])
        await sup.stop_all(grace=1.0)
        assert all(not h.alive for h in handles)
        assert handles[0].returncode == -signal.SIGKILL
        assert handles[1].returncode == 0  # SIGTERM ends a worker cleanly

    run_with_supervisor(scenario)
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert state != "Z", f"pid {pid} is a zombie"
