"""The orchestrator killed and restarted mid-drill resumes from its on-disk state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from test_orchestrator_engine import start_load, wait_until

from qnrecovery.orchestrator.engine import ComponentState, Orchestrator
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.load import ClientLoad

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]
FAST = {"heartbeat_s": 0.02, "heartbeat_misses": 3}
# Tests not about detection speed tolerate the stalls of a loaded machine.
ROBUST = FAST | {"pause_tolerance_s": 0.25}


def test_restarted_orchestrator_resumes_and_recovers_from_disk(
    run_live: Runner,
) -> None:
    """The first engine dies; a primary dies while no engine runs; the second
    engine, built from the state file alone, recovers it and later cold-starts
    another component from a snapshot the first engine wrote."""

    async def scenario(live: Any) -> None:
        first, sup, router = live.orchestrator, live.supervisor, live.router
        hot_group = await first.add_component("a", TIERS["critical"], {})
        cold_group = await first.add_component("b", TIERS["standard"], {})
        load = ClientLoad(router.port, ["a", "b"], rate=150.0)
        live.loads.append(load)
        await load.start()
        await wait_until(lambda: len(load.ledgers["b"].acked) >= 20)
        snapshot = await first.snapshot("b")
        assert snapshot is not None
        hot = hot_group.live_standby(StandbyKind.HOT)
        epoch_a = hot_group.epoch

        # The orchestrator dies: its watchers stop, its memory is gone.
        await first.close()
        sup.kill(hot_group.primary)
        await hot_group.primary.exited.wait()

        second = Orchestrator(sup, router, first.workdir, **ROBUST)
        live.engines.append(second)
        assert sorted(await second.resume()) == ["a", "b"]
        record = await recovered_by(second, "a")
        assert record.ok and record.strategy == "hot" and record.new_primary == hot.name
        assert record.detected_by == "exit" and record.epoch == epoch_a + 1
        b = second.components["b"]
        assert b.state is ComponentState.SERVING
        assert b.primary is cold_group.primary and b.snapshot == snapshot

        # The second engine cold-starts "b" from the first engine's snapshot
        # (or a newer one it took itself).
        await second.settle(timeout=10.0)
        second.note_fault("b", "kill", sup.kill(b.primary))
        cold = await recovered_by(second, "b")
        assert cold.ok and cold.strategy == "cold"
        assert cold.attempts[-1].snapshot is not None
        dump = await second.dump("b")
        snap_keys = {k for k, (_, t) in load.ledgers["b"].acked.items()}
        assert len(snap_keys & set(dump["data"])) >= 20

        results = await load.verify(second.dump)
        assert results["a"]["acked_writes_lost"] == 0, results["a"]["lost_keys"]
        assert second.state.component("a")["epoch"] == record.epoch

    run_live(scenario, **ROBUST)


async def recovered_by(engine: Orchestrator, name: str) -> Any:
    await wait_until(lambda: any(r.component == name for r in engine.records))
    await engine.settle(timeout=10.0)
    return next(r for r in engine.records if r.component == name)


def test_resume_adopts_a_promotion_the_dead_orchestrator_did_not_record(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        first, sup, router = live.orchestrator, live.supervisor, live.router
        group = await first.add_component("a", TIERS["critical"], {})
        load = await start_load(live, "a")
        old, hot = group.primary, group.live_standby(StandbyKind.HOT)
        await first.close()

        # A promotion happened, but never reached the state file.
        sup.kill(old)
        await old.exited.wait()
        await sup.promote(hot, group.epoch + 1)
        router.switch("a", hot.port, group.epoch + 1, hot.name)

        second = Orchestrator(sup, router, first.workdir, **ROBUST)
        live.engines.append(second)
        await second.resume()
        resumed = second.components["a"]
        assert resumed.primary is hot and resumed.epoch == group.epoch + 1
        assert resumed.state is ComponentState.SERVING and second.records == []
        await asyncio.sleep(0.2)
        results = await load.verify(second.dump)
        assert results["a"]["acked_writes_lost"] == 0

    run_live(scenario, **ROBUST)
