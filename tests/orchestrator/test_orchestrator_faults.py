"""Every fault kind against the engine, with real processes and client load.

Also: fencing of a revived primary, pause tolerance, snapshot fallback,
draining, events, and recovery timing that ignores the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_orchestrator_engine import (
    corrupt,
    fail_primary,
    lost_keys,
    recovered,
    start_load,
    wait_until,
)

from qnrecovery.orchestrator.events import RecoveryEvent
from qnrecovery.orchestrator.planner import PrepareLevel
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.faults import (
    inject_hang,
    inject_many,
    inject_slow,
    inject_standby_death,
    resume,
)
from qnrecovery.runtime.load import ClientLoad
from qnrecovery.runtime.protocol import Connection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Runner = Callable[..., None]
FAST = {"heartbeat_s": 0.02, "heartbeat_misses": 3}
# Tests not about detection speed tolerate the stalls of a loaded machine.
ROBUST = FAST | {"pause_tolerance_s": 0.25}


class ListSink:
    """An event sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[RecoveryEvent] = []

    def emit(self, event: RecoveryEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


async def raw(port: int, msg: dict[str, Any]) -> dict[str, Any]:
    conn = await Connection.open(port, 2.0)
    try:
        return await conn.request(msg, 2.0)
    finally:
        conn.close()


def test_pause_shorter_than_the_tolerance_triggers_no_failover(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["critical"], {})
        load = await start_load(live, "kv")
        primary = group.primary

        inject_hang(sup, primary)
        await asyncio.sleep(0.15)
        resume(sup, primary)
        await asyncio.sleep(0.6)
        assert orchestrator.suspicions == [] and orchestrator.records == []
        assert group.primary is primary

        # A pause past the tolerance is a failure.
        orchestrator.note_fault("kv", "hang", inject_hang(sup, primary))
        record = await recovered(live, 1)
        assert record.ok and record.detected_by in ("heartbeat", "phi")
        # Silence is counted from the last answered heartbeat, which may
        # precede the fault by up to a period and a ping.
        assert record.detect_ms >= 400.0 - 50.0
        assert "heartbeat" in record.why or "phi" in record.why
        results = await load.verify(orchestrator.dump)
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]

    run_live(scenario, pause_tolerance_s=0.4, **FAST)


@pytest.mark.parametrize("tier", ["critical", "important"])
def test_revived_primary_is_fenced_and_one_primary_acks_per_epoch(
    run_live: Runner, tier: str
) -> None:
    """The hung primary wakes up after the switch while clients keep writing."""

    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS[tier], {})
        load = await start_load(live, "kv", min_acked=30)
        old = group.primary

        await load.wait_write_in_flight("kv")
        when = inject_hang(sup, old)
        orchestrator.note_fault("kv", "hang", when)
        record = await recovered(live, 1)
        assert record.ok and old.alive and group.primary is not old

        resume(sup, old)
        await asyncio.sleep(0.1)
        # The revived primary refuses its own epoch's writes and reads.
        stale = {"op": "put", "key": "z", "value": 0, "epoch": record.epoch - 1}
        assert (await raw(old.port, stale))["error"] in ("lease-expired", "stale-epoch")
        read = {"op": "get", "key": "k1", "epoch": record.epoch - 1}
        assert (await raw(old.port, read))["error"] in ("lease-expired", "stale-epoch")
        await asyncio.sleep(0.4)  # clients keep writing meanwhile
        assert old.alive

        results = await load.verify(orchestrator.dump)
        per_epoch = load.primaries_per_epoch("kv")
        assert all(len(names) == 1 for names in per_epoch.values()), per_epoch
        assert per_epoch[record.epoch] == {record.new_primary}
        ledger = load.ledgers["kv"]
        switched = record.switch_time
        assert switched is not None
        late = [
            k
            for k, (_, t) in ledger.acked.items()
            if t > switched and ledger.acked_by[k][0] == old.name
        ]
        assert late == []
        dump = await orchestrator.dump("kv")
        lost = lost_keys(load, "kv", dump["data"])
        answered = record.first_answer_time
        assert not {k for k, (_, t) in ledger.acked.items() if t >= answered} & lost
        if tier == "critical":
            assert results["kv"]["acked_writes_lost"] == 0, lost
            assert record.rpo_writes == 0
        else:
            # Only writes acknowledged before the hang can be missing (RPO).
            assert all(ledger.acked[k][1] < switched for k in lost)
            assert record.rpo_writes is not None and record.rpo_writes >= 0

    run_live(scenario, stop_old_primary=False, **ROBUST)


def test_slow_primary_is_detected_and_replaced_without_loss(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["critical"], {})
        load = await start_load(live, "kv")
        slow = group.primary
        orchestrator.note_fault("kv", "slow", await inject_slow(sup, slow, 0.3))
        record = await recovered(live, 1)

        assert record.ok and record.fault == "slow" and record.strategy == "hot"
        assert record.detected_by in ("heartbeat", "phi")
        results = await load.verify(orchestrator.dump)
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]
        await asyncio.wait_for(slow.exited.wait(), 5.0)

    run_live(scenario, **ROBUST)


def test_standby_death_during_recovery_escalates_and_emits_events(
    run_live: Runner,
) -> None:
    sink = ListSink()

    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["ultra-critical"], {})
        load = await start_load(live, "kv")
        warm = group.live_standby(StandbyKind.WARM)
        hot = group.live_standby(StandbyKind.HOT)

        await load.wait_write_in_flight("kv")
        when, _ = inject_standby_death(sup, group.primary, hot)
        orchestrator.note_fault("kv", "standby-death", when)
        record = await recovered(live, 1)

        assert record.ok and record.strategy == "warm" and record.escalations == 1
        assert record.new_primary == warm.name
        assert record.rpo_writes is not None and record.rpo_ms is not None
        assert [e.kind for e in sink.events if e.kind != "prepared"][:3] == [
            "suspected",
            "escalated",
            "recovered",
        ]
        done = next(e for e in sink.events if e.kind == "recovered")
        assert done.reason == "warm" and done.tier == "ultra-critical"
        assert done.duration_s == pytest.approx(record.recovery_ms / 1e3)
        await load.verify(orchestrator.dump)

    run_live(scenario, sinks=[sink], **ROBUST)


def test_standby_that_never_answers_escalates_to_a_cold_start(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["critical"], {})
        hot = group.live_standby(StandbyKind.HOT)
        load = await start_load(live, "kv")
        inject_hang(sup, hot)  # alive, but it will never accept its promotion
        await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert record.ok and record.strategy == "cold" and record.escalations == 1
        assert "no reply" in (record.attempts[0].error or "")
        await asyncio.wait_for(hot.exited.wait(), 5.0)

    run_live(scenario, promote_timeout_s=0.2, **ROBUST)


@pytest.mark.slow
def test_concurrent_and_cascading_faults_on_three_tiers(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        names = {"a": "critical", "b": "important", "c": "standard"}
        for name, tier in names.items():
            await orchestrator.add_component(name, TIERS[tier], {})
        load = ClientLoad(live.router.port, list(names), rate=100.0)
        live.loads.append(load)
        await load.start()
        expected = {"a": "hot", "b": "warm", "c": "cold"}

        for count, (kind, interval) in enumerate(
            [("concurrent", 0.0), ("cascade", 0.03)], start=1
        ):
            await wait_until(lambda: all(orchestrator.protected(n) for n in names))
            order = list(names)
            primaries = [orchestrator.components[n].primary for n in order]
            times = await inject_many(
                sup,
                primaries,
                interval,
                lambda i, when, k=kind, o=order: orchestrator.note_fault(o[i], k, when),
            )
            assert None not in times
            await wait_until(lambda n=3 * count: len(orchestrator.records) == n)
            await orchestrator.settle(timeout=10.0)
            batch = orchestrator.records[-3:]
            assert {r.fault for r in batch} == {kind}, orchestrator.suspicions
            assert {r.component: r.strategy for r in batch} == expected
            assert all(r.recovery_ms is not None for r in batch if r.component == "a")
            if interval:
                spread = max(times) - min(times)  # type: ignore[type-var,operator]
                assert spread >= 2 * interval

        results = await load.verify(orchestrator.dump)
        assert results["a"]["acked_writes_lost"] == 0, results["a"]["lost_keys"]

    run_live(scenario, **ROBUST)


def test_corrupt_newest_snapshot_falls_back_to_the_previous(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        group = await orchestrator.add_component("kv", TIERS["standard"], {})
        epoch = group.epoch
        await sup.call(
            group.primary, {"op": "put", "key": "a", "value": 1, "epoch": epoch}
        )
        older = await orchestrator.snapshot("kv")
        await sup.call(
            group.primary, {"op": "put", "key": "b", "value": 2, "epoch": epoch}
        )
        newest = await orchestrator.snapshot("kv")
        assert older and newest and group.snapshot == newest
        corrupt(Path(newest))

        load = ClientLoad(live.router.port, ["kv"], rate=100.0, read_every=0)
        live.loads.append(load)
        await load.start()
        await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert record.ok and record.strategy == "cold"
        assert [f["path"] for f in record.snapshot_fallbacks] == [str(newest)]
        assert "checksum mismatch" in record.snapshot_fallbacks[0]["error"]
        assert record.attempts[-1].snapshot == str(older)
        dump = await orchestrator.dump("kv")
        assert dump["data"]["a"] == 1 and "b" not in dump["data"]

    run_live(scenario, **ROBUST)


def test_drain_sends_reads_to_the_hot_standby_until_released(
    run_live: Runner,
) -> None:
    sink = ListSink()

    async def scenario(live: Any) -> None:
        orchestrator, router = live.orchestrator, live.router
        group = await orchestrator.add_component("kv", TIERS["critical"], {})
        hot = group.live_standby(StandbyKind.HOT)
        action = await orchestrator.prepare("kv", PrepareLevel.IMMEDIATE)
        assert action is not None and action.endswith("drain")
        assert router.drained["kv"] == (hot.port, hot.name) and group.drained

        load = await start_load(live, "kv", min_acked=40)
        await wait_until(lambda: router.stats["kv"].drained_reads >= 5)
        assert load.ledgers["kv"].read_mismatches == 0
        assert orchestrator.drains[0]["worker"] == hot.name
        assert "drained" in sink.kinds()

        await orchestrator.prepare("kv", PrepareLevel.MONITOR)
        assert "kv" not in router.drained and not group.drained
        await asyncio.sleep(0.05)  # a drained read may still be in flight
        served = router.stats["kv"].drained_reads
        await asyncio.sleep(0.3)
        assert router.stats["kv"].drained_reads == served

    run_live(scenario, drain=True, sinks=[sink], **ROBUST)


def test_recovery_time_ignores_wall_clock_jumps(run_live: Runner) -> None:
    """The wall clock jumps an hour back and forth; durations do not move."""
    sink = ListSink()
    calls = {"n": 0}

    def jumping() -> float:
        calls["n"] += 1
        return time.time() + (3600.0 if calls["n"] % 2 else -3600.0)

    async def scenario(live: Any) -> None:
        await live.orchestrator.add_component("kv", TIERS["critical"], {})
        load = await start_load(live, "kv")
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert record.fault_time == when and record.first_answer_time is not None
        assert 0.0 < record.recovery_ms < 5_000.0
        assert record.recovery_ms == pytest.approx(
            (record.first_answer_time - when) * 1e3
        )
        stamps = [e.wall_time for e in sink.events]
        assert calls["n"] >= 2 and max(stamps) - min(stamps) > 3600.0
        done = next(e for e in sink.events if e.kind == "recovered")
        assert done.duration_s == pytest.approx(record.recovery_ms / 1e3)

    run_live(scenario, sinks=[sink], wall_clock=jumping, **ROBUST)


def test_concurrent_faults_on_two_tiers_both_recover(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator, sup = live.orchestrator, live.supervisor
        for name, tier in (("a", "critical"), ("b", "important")):
            await orchestrator.add_component(name, TIERS[tier], {})
        load = ClientLoad(live.router.port, ["a", "b"], rate=100.0)
        live.loads.append(load)
        await load.start()
        await wait_until(lambda: len(load.ledgers["b"].acked) >= 10)

        primaries = [orchestrator.components[n].primary for n in ("a", "b")]
        times = await inject_many(
            sup,
            primaries,
            0.0,
            lambda i, when: orchestrator.note_fault("ab"[i], "concurrent", when),
        )
        assert times[1] - times[0] < 0.01  # type: ignore[operator]
        await wait_until(lambda: len(orchestrator.records) == 2)
        await orchestrator.settle(timeout=10.0)
        strategies = {r.component: r.strategy for r in orchestrator.records}
        assert strategies == {"a": "hot", "b": "warm"}
        assert all(r.ok and r.fault == "concurrent" for r in orchestrator.records)
        results = await load.verify(orchestrator.dump)
        assert results["a"]["acked_writes_lost"] == 0

    run_live(scenario, **ROBUST)
