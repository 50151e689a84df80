"""The fault suite charges a fault only with the writes its own recovery lost."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qnrecovery.bench.recovery import _collect, _lost_keys, _SuiteRun
from qnrecovery.orchestrator.engine import Orchestrator, RecoveryRecord
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.load import ClientLoad
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

NAME = "critical"


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def more_acks(load: ClientLoad, count: int) -> None:
    start = len(load.ledgers[NAME].acked)
    await wait_until(lambda: len(load.ledgers[NAME].acked) >= start + count)


def record_of(engine: Orchestrator, count: int) -> RecoveryRecord:
    records = [r for r in engine.records if r.component == NAME]
    assert len(records) >= count
    return records[count - 1]


def test_a_later_false_failover_is_not_charged_to_the_hot_recovery(
    tmp_path: Path,
) -> None:
    """Hot failover, then the new primary hangs with no hot standby left.

    The second failover cold-starts from the snapshot and loses acknowledged
    writes; the hot recovery of the injected fault lost none, and its trial
    must say so (it used to count the loss of the later failover).
    """
    supervisor = Supervisor()

    async def main() -> None:
        router = Router()
        engine = Orchestrator(supervisor, router, tmp_path, stop_old_primary=False)
        load = ClientLoad(0, [NAME], rate=200.0)
        try:
            await router.start()
            await engine.add_component(NAME, TIERS[NAME], {})
            load = ClientLoad(router.port, [NAME], rate=200.0)
            await load.start()
            await more_acks(load, 20)
            run = _SuiteRun(engine, supervisor, load, random.Random(0))
            run.lost_before[NAME] = await _lost_keys(engine, load, NAME)

            # The injected fault: the primary is killed, the hot standby
            # takes over.
            group = engine.components[NAME]
            assert group.primary is not None
            when = supervisor.kill(group.primary)
            engine.note_fault(NAME, "kill", when)
            await wait_until(lambda: any(r.ok for r in engine.records))
            assert record_of(engine, 1).strategy == "hot"
            await engine.settle(NAME)
            await more_acks(load, 30)

            # A later failover of its own: the hot standby dies and the new
            # primary hangs, so a cold start from the snapshot takes over.
            taken_over = group.primary
            hot = group.standbys.get(StandbyKind.HOT)
            assert taken_over is not None and hot is not None
            supervisor.kill(hot)
            await hot.exited.wait()
            # Hung before the engine replaces the lost hot standby (the
            # primary acknowledges no write without it meanwhile).
            supervisor.kill(taken_over, signal.SIGSTOP)
            await wait_until(lambda: len(engine.records) >= 2 and engine.records[1].ok)
            supervisor.kill(taken_over, signal.SIGCONT)
            assert record_of(engine, 2).strategy == "cold"
            await engine.settle(NAME)
            await more_acks(load, 10)

            await _collect(run, "kill", NAME, when)
            trial = run.trials[-1]
            assert trial.strategy == "hot"
            lost_now = await _lost_keys(engine, load, NAME)
            assert lost_now, "precondition: the cold start lost acknowledged writes"
            assert trial.acked_writes_lost == 0
            assert run.lost_before[NAME] == lost_now
        finally:
            await load.stop(timeout=1.0)
            await engine.close()
            await router.close()
            await supervisor.stop_all(grace=1.0)

    try:
        asyncio.run(main())
    finally:
        supervisor.kill_all_now()
