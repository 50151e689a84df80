"""A hot standby stays in step with its primary when a write is not acknowledged."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

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
