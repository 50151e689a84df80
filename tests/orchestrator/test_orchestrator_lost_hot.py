"""A hot standby lost under writes is replaced before writes are acknowledged again.

The primary refuses writes while it has lost its hot standby, the engine drops
and replaces that standby, and a later failover to the fresh hot standby loses
no acknowledged write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from test_orchestrator_engine import fail_primary, recovered, start_load, wait_until

from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.faults import inject_hang

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]
ROBUST = {"heartbeat_s": 0.02, "heartbeat_misses": 3, "pause_tolerance_s": 0.25}


def test_lost_hot_standby_is_replaced_and_failover_loses_no_acked_write(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["critical"], {})
        primary, lost = group.primary, group.live_standby(StandbyKind.HOT)
        assert primary is not None and lost is not None
        load = await start_load(live, "kv")

        inject_hang(sup, lost)
        await wait_until(lambda: not orchestrator.protected("kv"), timeout=5.0)
        await wait_until(
            lambda: (
                group.live_standby(StandbyKind.HOT) not in (None, lost)
                and orchestrator.protected("kv")
            ),
            timeout=10.0,
        )
        await asyncio.wait_for(lost.exited.wait(), 5.0)
        fresh = group.live_standby(StandbyKind.HOT)
        assert fresh is not None and group.primary is primary
        pong = await sup.call(primary, {"op": "ping"})
        assert pong["lost_hot"] == [] and pong["standbys"]["hot"] == [fresh.port]

        # Writes are acknowledged again, with the fresh standby in step.
        acked = len(load.ledgers["kv"].acked)
        await wait_until(lambda: len(load.ledgers["kv"].acked) >= acked + 20)
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert record.ok and record.strategy == "hot", record.attempts
        assert record.new_primary == fresh.name and record.fault_time == when
        assert record.rpo_writes == 0
        results = await load.verify(orchestrator.dump)
        assert results["kv"]["acked_writes"] > acked + 20
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]

    run_live(scenario, **ROBUST)
