"""The recovery engine with real worker processes, a router and client load.

Expected data loss per strategy, which the tests below pin:

- hot standby: none; every write is applied by the hot standby before the
  primary acknowledges it.
- warm standby: at most the writes acknowledged during the last shipping
  interval (50 ms) before the fault.
- cold start: every write acknowledged after the newest snapshot.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qnrecovery.exceptions import PortInUseError, RuntimeFailure
from qnrecovery.orchestrator.engine import ComponentState, RecoveryRecord
from qnrecovery.orchestrator.planner import PrepareLevel
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind
from qnrecovery.runtime.load import ClientLoad
from qnrecovery.runtime.router import Router

Runner = Callable[..., None]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


async def start_load(live: Any, name: str, min_acked: int = 20) -> ClientLoad:
    """Client load on `name`, returned once `min_acked` writes were acked."""
    load = ClientLoad(live.router.port, [name], rate=200.0)
    live.loads.append(load)
    await load.start()
    await wait_until(lambda: len(load.ledgers[name].acked) >= min_acked)
    return load


async def fail_primary(live: Any, name: str, load: ClientLoad | None) -> float:
    """SIGKILL `name`'s primary (during a client write if loaded); return when."""
    if load is not None:
        await load.wait_write_in_flight(name)
    group = live.orchestrator.components[name]
    when = live.supervisor.kill(group.primary)
    live.orchestrator.note_fault(name, "kill", when)
    return when


async def recovered(live: Any, count: int) -> RecoveryRecord:
    """The `count`-th recovery record, once it and its rebuild are done."""
    orchestrator = live.orchestrator
    await wait_until(lambda: len(orchestrator.records) >= count)
    await orchestrator.settle(timeout=10.0)
    return orchestrator.records[count - 1]


async def kill_standby(live: Any, name: str, kind: StandbyKind) -> None:
    handle = live.orchestrator.components[name].standbys[kind]
    live.supervisor.kill(handle)
    await handle.exited.wait()


def lost_keys(load: ClientLoad, name: str, data: dict[str, Any]) -> set[str]:
    acked = load.ledgers[name].acked
    return {k for k, (value, _) in acked.items() if data.get(k) != value}


def corrupt(path: Path) -> None:
    """Change a snapshot's data so that its checksum no longer matches."""
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    snapshot["data"]["a"] = "tampered"
    path.write_text(json.dumps(snapshot), encoding="utf-8")


def assert_recovered_by(record: RecoveryRecord, strategy: str, when: float) -> None:
    assert record.ok, record.attempts
    assert record.strategy == strategy
    assert record.fault == "kill" and record.fault_time == when
    assert record.recovery_ms is not None
    assert 0.0 < record.recovery_ms < 5_000.0
    assert record.detect_ms >= 0.0


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_hot_failover_of_critical_component_loses_no_acked_write(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        group = await live.orchestrator.add_component(
            "kv", TIERS["critical"], {"primary": "h1", "hot": "h2"}
        )
        hot = group.live_standby(StandbyKind.HOT)
        assert hot is not None

        load = await start_load(live, "kv")
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert_recovered_by(record, "hot", when)
        assert record.escalations == 0 and record.new_primary == hot.name
        assert record.detected_by in ("exit", "heartbeat")
        assert set(record.attempts[0].steps_ms) >= {"promote_ms", "verify_ms"}
        assert group.state is ComponentState.SERVING and group.primary is hot

        results = await load.verify(live.orchestrator.dump)
        assert results["kv"]["acked_writes"] > 20
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]
        assert results["kv"]["read_mismatches"] == 0

        # The hot standby was rebuilt after the recovery.
        assert live.orchestrator.protected("kv")
        assert group.live_standby(StandbyKind.HOT) not in (None, hot)

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_dead_hot_standby_escalates_critical_component_to_cold_start(
    run_live: Runner, tmp_path: Path
) -> None:
    """The hot standby dies first, so the engine cold-starts from the snapshot.

    The only snapshot was taken when the component started, before any
    write, so every write the old primary acknowledged is lost; the engine
    must still serve again, and ``verify`` must report the loss.
    """

    async def scenario(live: Any) -> None:
        group = await live.orchestrator.add_component(
            "kv", TIERS["critical"], {"primary": "h1", "hot": "h2"}
        )
        snapshot = json.loads(Path(group.snapshot).read_text(encoding="utf-8"))
        assert snapshot["data"] == {}

        load = await start_load(live, "kv")
        await kill_standby(live, "kv", StandbyKind.HOT)
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert_recovered_by(record, "cold", when)
        assert record.escalations == 1
        failed = record.attempts[0]
        assert (failed.kind, failed.ok) == ("hot", False)
        assert "no live hot standby" in (failed.error or "")
        assert group.state is ComponentState.SERVING

        results = await load.verify(live.orchestrator.dump)
        dump = await live.orchestrator.dump("kv")
        acked = load.ledgers["kv"].acked
        before_fault = {k for k, (_, t) in acked.items() if t < when}
        lost = lost_keys(load, "kv", dump["data"])
        assert len(before_fault) >= 20
        assert before_fault <= lost
        assert results["kv"]["acked_writes_lost"] == len(lost) > 0
        # The cold primary serves: writes acknowledged after it answered hold.
        answered = record.first_answer_time
        assert answered is not None
        after = {k for k, (_, t) in acked.items() if t > answered}
        assert after and not after & lost

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_dead_hot_standby_escalates_ultra_critical_component_to_warm(
    run_live: Runner,
) -> None:
    """Only writes acknowledged in the warm standby's last interval may be lost."""

    async def scenario(live: Any) -> None:
        group = await live.orchestrator.add_component(
            "kv", TIERS["ultra-critical"], {"primary": "h1", "hot": "h2", "warm": "h3"}
        )
        warm = group.live_standby(StandbyKind.WARM)
        assert warm is not None and group.live_standby(StandbyKind.HOT) is not None

        load = await start_load(live, "kv", min_acked=40)
        await kill_standby(live, "kv", StandbyKind.HOT)
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert_recovered_by(record, "warm", when)
        assert record.escalations == 1 and record.new_primary == warm.name
        assert [a.kind for a in record.attempts] == ["hot", "warm"]

        results = await load.verify(live.orchestrator.dump)
        acked = load.ledgers["kv"].acked
        lost = set(results["kv"]["lost_keys"])
        assert results["kv"]["acked_writes_lost"] < len(acked) // 2
        assert all(acked[k][1] > when - 1.0 for k in lost)

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_warm_standby_follows_the_new_primary_after_a_hot_failover(
    run_live: Runner,
) -> None:
    """After a hot failover the surviving warm standby feeds from the new primary.

    Regression test: it used to stay attached to the dead primary, so a
    second failover to it lost every write since the first one.
    """

    async def scenario(live: Any) -> None:
        group = await live.orchestrator.add_component("kv", TIERS["ultra-critical"], {})
        load = await start_load(live, "kv")
        await fail_primary(live, "kv", load)
        first = await recovered(live, 1)
        assert first.strategy == "hot"

        warm = group.live_standby(StandbyKind.WARM)
        assert warm is not None and live.orchestrator.protected("kv")
        pong = await live.supervisor.call(group.primary, {"op": "ping"})
        assert warm.port in pong["standbys"]["warm"]

        await asyncio.sleep(0.3)
        await kill_standby(live, "kv", StandbyKind.HOT)
        when = await fail_primary(live, "kv", load)
        second = await recovered(live, 2)
        assert_recovered_by(second, "warm", when)

        results = await load.verify(live.orchestrator.dump)
        acked = load.ledgers["kv"].acked
        assert all(acked[k][1] > when - 1.0 for k in results["kv"]["lost_keys"])
        assert results["kv"]["acked_writes_lost"] < 60

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_standard_component_cold_starts_from_its_snapshot(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator = live.orchestrator
        group = await orchestrator.add_component("kv", TIERS["standard"], {})
        assert group.standbys == {}

        load = await start_load(live, "kv")
        path = await orchestrator.snapshot("kv")
        assert path is not None and path == group.snapshot
        snapshot = json.loads(path.read_text(encoding="utf-8"))
        assert len(snapshot["data"]) >= 20
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert_recovered_by(record, "cold", when)
        assert record.escalations == 0 and "start_ms" in record.attempts[0].steps_ms

        await load.verify(orchestrator.dump)
        dump = await orchestrator.dump("kv")
        assert dump["seq"] >= snapshot["seq"]
        for key, value in snapshot["data"].items():
            assert dump["data"][key] == value
        # Writes acknowledged after the snapshot may be lost; none before it.
        assert not lost_keys(load, "kv", dump["data"]) & set(snapshot["data"])

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_corrupt_snapshot_fails_the_cold_start_with_a_clear_error(
    run_live: Runner,
) -> None:
    async def scenario(live: Any) -> None:
        orchestrator = live.orchestrator
        group = await orchestrator.add_component("kv", TIERS["standard"], {})
        await live.supervisor.call(
            group.primary, {"op": "put", "key": "a", "value": 1, "epoch": group.epoch}
        )
        path = await orchestrator.snapshot("kv")
        assert path is not None
        # Every snapshot kept is corrupt, so there is nothing to fall back to.
        snapshots = orchestrator.state.snapshots("kv")
        assert len(snapshots) == 2
        for info in snapshots:
            corrupt(Path(info["path"]))

        await fail_primary(live, "kv", None)
        record = await recovered(live, 1)

        assert len(record.snapshot_fallbacks) == 2
        assert not record.ok and record.strategy is None
        retries = orchestrator.cold_retries
        assert record.recovery_ms is None and record.escalations == 1 + retries
        assert [a.kind for a in record.attempts] == ["cold"] * (1 + retries)
        attempt = record.attempts[0]
        assert attempt.kind == "cold" and not attempt.ok
        assert "exited with code 3" in (attempt.error or "")
        assert "checksum mismatch" in (attempt.error or "")
        assert group.state is ComponentState.FAILED
        with pytest.raises(RuntimeFailure, match="no live primary"):
            await orchestrator.dump("kv")

    run_live(scenario)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_prepare_immediate_makes_the_warm_standby_hot(run_live: Runner) -> None:
    async def scenario(live: Any) -> None:
        orchestrator = live.orchestrator
        group = await orchestrator.add_component("kv", TIERS["important"], {})
        warm = group.live_standby(StandbyKind.WARM)
        assert warm is not None and group.live_standby(StandbyKind.HOT) is None

        action = await orchestrator.prepare("kv", PrepareLevel.IMMEDIATE)
        assert action == "snapshot+hot"
        assert group.prepared is PrepareLevel.IMMEDIATE
        assert group.live_standby(StandbyKind.HOT) is warm
        # A fresh warm standby replaces the one that became hot.
        assert group.live_standby(StandbyKind.WARM) not in (None, warm)
        assert await orchestrator.prepare("kv", PrepareLevel.IMMEDIATE) is None

        load = await start_load(live, "kv")
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)

        assert_recovered_by(record, "hot", when)
        assert record.prepared == "immediate" and record.new_primary == warm.name
        results = await load.verify(orchestrator.dump)
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]

    run_live(scenario)


def test_router_on_a_taken_port_raises_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        async def main() -> None:
            router = Router(port=port)
            with pytest.raises(PortInUseError, match=f"{port}.*already in use") as err:
                await router.start()
            assert isinstance(err.value, OSError)
            assert err.value.errno == errno.EADDRINUSE
            await router.close()

        asyncio.run(main())


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_moved_hot_standby_takes_over_without_losing_an_acked_write(
    run_live: Runner,
) -> None:
    """Make-before-break: the moved standby has every write, the old one goes."""

    async def scenario(live: Any) -> None:
        group = await live.orchestrator.add_component(
            "kv", TIERS["ultra-critical"], {"primary": "h1", "hot": "h2", "warm": "h3"}
        )
        old_hot = group.live_standby(StandbyKind.HOT)
        assert old_hot is not None
        load = await start_load(live, "kv")

        moved = await live.orchestrator.move_standby("kv", StandbyKind.HOT, "h4")
        warm = await live.orchestrator.move_standby("kv", StandbyKind.WARM, "h5")

        assert moved and warm
        assert group.hosts["hot"] == "h4" and group.hosts["warm"] == "h5"
        new_hot = group.live_standby(StandbyKind.HOT)
        assert new_hot is not None and new_hot is not old_hot
        await old_hot.exited.wait()

        # Writes keep flowing to the new hot standby; it takes over with all.
        acked_before = len(load.ledgers["kv"].acked)
        await wait_until(lambda: len(load.ledgers["kv"].acked) > acked_before + 20)
        when = await fail_primary(live, "kv", load)
        record = await recovered(live, 1)
        assert_recovered_by(record, "hot", when)
        assert record.new_primary == new_hot.name

        results = await load.verify(live.orchestrator.dump)
        assert results["kv"]["acked_writes_lost"] == 0, results["kv"]["lost_keys"]

    run_live(scenario)
