"""A hung primary is found by missed heartbeats, not by its exit."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.load import ClientLoad

Runner = Callable[[Callable[[Any], Any]], None]


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        await asyncio.sleep(0.005)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_hung_primary_is_suspected_by_heartbeat_and_replaced(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator = live.orchestrator
        group = await orchestrator.add_component(
            "kv", TIERS["critical"], {"primary": "h1", "hot": "h2"}
        )
        hot = group.live_standby(StandbyKind.HOT)
        load = ClientLoad(live.router.port, ["kv"], rate=200.0)
        live.loads.append(load)
        await load.start()
        await _until(lambda: len(load.ledgers["kv"].acked) >= 20)

        hung = group.primary
        await load.wait_write_in_flight("kv")
        when = live.supervisor.kill(hung, signal.SIGSTOP)
        orchestrator.note_fault("kv", "hang", when)
        await _until(lambda: len(orchestrator.records) >= 1)
        await orchestrator.settle(timeout=10.0)
        record = orchestrator.records[0]

        # The process never exited, so only the heartbeats could see it.
        assert record.detected_by in ("heartbeat", "phi")
        assert record.fault == "hang" and record.strategy == "hot"
        assert record.new_primary == hot.name
        assert record.recovery_ms is not None and record.recovery_ms > 0
        # Missed heartbeats cannot be noticed sooner than two periods.
        assert record.detect_ms >= 2 * orchestrator.heartbeat_s * 1e3

        results = await load.verify(orchestrator.dump)
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]
        # The hung process was stopped for good once its standby took over.
        await asyncio.wait_for(hung.exited.wait(), 5.0)

    run_live(scenario)
