"""A hot standby stays in step with its primary, or writes wait until it is replaced."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from qnrecovery.runtime.faults import inject_hang, resume
from qnrecovery.runtime.protocol import Connection
from qnrecovery.runtime.supervisor import Supervisor, WorkerHandle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]


async def raw(handle: WorkerHandle, msg: dict) -> dict:
    """Send `msg` and return the reply, error replies included."""
    conn = await Connection.open(handle.port, 5.0)
    try:
        return await conn.request(msg, 5.0)
    finally:
        conn.close()


def test_write_refused_after_replication_does_not_desync_the_hot_standby(
    run_with_supervisor: Runner,
) -> None:
    """The lease runs out while a record is at the hot standby.

    The standby applied record 1, the primary refused to acknowledge it. Once
    the lease is renewed, the next acknowledged write must reach the standby
    (it must not reuse sequence number 1, which the standby would take for a
    duplicate), so promoting the standby loses no acknowledged write.
    """

    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn(
            "kv-a", "primary", 1, extra_args=("--hot-timeout", "5")
        )
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(primary, hot, "hot")

        await sup.call(hot, {"op": "slow", "delay": 0.8})
        lease = time.monotonic() + 0.3
        await sup.call(primary, {"op": "ping", "lease_until": lease})
        put = {"op": "put", "key": "k1", "value": "v1", "epoch": 1}
        refused = await raw(primary, put)
        assert refused["error"] == "lease-expired", refused
        await sup.call(hot, {"op": "slow", "delay": 0.0})
        assert (await sup.dump(hot))["data"] == {"k1": "v1"}, (
            "precondition: the record reached the hot standby before the "
            "primary refused it"
        )

        renew = time.monotonic() + 30.0
        await sup.call(primary, {"op": "ping", "lease_until": renew})
        put = {"op": "put", "key": "k2", "value": "v2", "epoch": 1}
        acked = await sup.call(primary, put)
        assert acked["ok"] is True

        promoted = await sup.promote(hot, 2)
        data = (await sup.dump(hot))["data"]
        assert data.get("k2") == "v2", f"acked write k2 lost on promotion: {data}"
        primary_state = await sup.dump(primary)
        assert promoted["seq"] == primary_state["seq"] == acked["seq"]

    run_with_supervisor(scenario)


def test_primary_refuses_writes_while_its_lost_hot_standby_is_not_forgotten(
    run_with_supervisor: Runner,
) -> None:
    """A hot standby that stops answering blocks writes until it is dropped.

    Acknowledging without it would lose the writes if the orchestrator, which
    still counts it as the hot standby, promoted it. Re-attaching that standby
    or ``detach`` of its port (the orchestrator dropped it) lets writes resume.
    """

    async def scenario(sup: Supervisor) -> None:
        primary = await sup.spawn(
            "kv-a", "primary", 1, extra_args=("--hot-timeout", "0.5")
        )
        hot = await sup.spawn("kv-b", "hot", 1)
        await sup.attach(primary, hot, "hot")
        put = {"op": "put", "key": "k1", "value": "v1", "epoch": 1}
        assert (await sup.call(primary, put))["ok"] is True

        inject_hang(sup, hot)
        put = {"op": "put", "key": "k2", "value": "v2", "epoch": 1}
        refused = await raw(primary, put)
        assert refused["error"] == "hot-standby-lost", refused
        assert str(hot.port) in refused["detail"]
        pong = await sup.call(primary, {"op": "ping"})
        assert pong["lost_hot"] == [hot.port] and pong["standbys"]["hot"] == []
        put = {"op": "put", "key": "k3", "value": "v3", "epoch": 1}
        assert (await raw(primary, put))["error"] == "hot-standby-lost"
        read = await sup.call(primary, {"op": "get", "key": "k1", "epoch": 1})
        assert read["value"] == "v1", "reads need no hot standby"
        # Forgetting another port changes nothing.
        await sup.call(primary, {"op": "detach", "port": hot.port + 1})
        assert (await raw(primary, put))["error"] == "hot-standby-lost"

        # Re-attaching the standby (awake again) clears it.
        resume(sup, hot)
        await sup.attach(primary, hot, "hot")
        assert (await sup.call(primary, {"op": "ping"}))["lost_hot"] == []
        put = {"op": "put", "key": "k4", "value": "v4", "epoch": 1}
        acked = await sup.call(primary, put)
        assert (await sup.dump(hot))["seq"] == acked["seq"]

        # Lost again, then dropped by the orchestrator with ``detach``.
        inject_hang(sup, hot)
        put = {"op": "put", "key": "k5", "value": "v5", "epoch": 1}
        assert (await raw(primary, put))["error"] == "hot-standby-lost"
        forgot = await sup.call(primary, {"op": "detach", "port": hot.port})
        assert forgot["was_lost"] is True
        assert (await sup.call(primary, {"op": "ping"}))["lost_hot"] == []
        put = {"op": "put", "key": "k6", "value": "v6", "epoch": 1}
        assert (await sup.call(primary, put))["ok"] is True
        data = (await sup.dump(primary))["data"]
        assert data["k6"] == "v6" and data["k4"] == "v4"

    run_with_supervisor(scenario)
