"""Recovery times of the reference workload, per standby strategy.

For each strategy (``hot``, ``warm``, ``cold``) one component of the tier
that uses it (critical, important, standard) is started with its standbys,
a client load writes and reads through the router, and its primary is
SIGKILLed ``trials`` times. Each recovery is timed by the engine, from the
signal to the first client request the new primary answered. After every
trial the suite waits until the engine is done and the component has every
standby it should have, then checks which acknowledged writes the new
primary lacks.

Examples
--------
>>> from qnrecovery.bench.recovery import format_recovery, run_recovery_suite
>>> result = run_recovery_suite(trials=2, strategies=("hot",))  # doctest: +SKIP
>>> print(format_recovery(result))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.orchestrator.engine import Orchestrator
from qnrecovery.orchestrator.tiers import TIERS
from qnrecovery.runtime.load import ClientLoad
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor

__all__ = [
    "STRATEGY_TIERS",
    "RecoverySuiteResult",
    "StrategyResult",
    "Trial",
    "format_recovery",
    "run_recovery_suite",
]

logger = logging.getLogger(__name__)

#: The tier whose default standby is each strategy.
STRATEGY_TIERS: dict[str, str] = {
    "hot": "critical",
    "warm": "important",
    "cold": "standard",
}


@dataclass(frozen=True)
class Trial:
    """One kill and the recovery that followed.

    Attributes
    ----------
    strategy : str or None
        Standby kind that took over; ``None`` if the recovery failed.
    recovery_ms : float or None
        From the SIGKILL to the new primary's first answer.
    detect_ms : float or None
        From the SIGKILL to its detection.
    escalations : int
        Failed attempts before the one that worked.
    acked_writes_lost : int
        Writes acknowledged before the kill that the new primary lacks.
    write_in_flight : bool
        Whether a client write was in flight when the signal was sent.
    """

    strategy: str | None
    recovery_ms: float | None
    detect_ms: float | None
    escalations: int
    acked_writes_lost: int
    write_in_flight: bool


@dataclass
class StrategyResult:
    """Every trial of one strategy.

    Attributes
    ----------
    strategy : str
        Standby kind asked for (``hot``, ``warm`` or ``cold``).
    tier : str
        Tier of the component.
    objective_ms : float
        The tier's recovery-time objective.
    trials : list of Trial
    acked_writes : int
        Writes the clients saw acknowledged during the whole run.
    write_rate : float
        Acknowledged writes per second.
    workers_started, workers_reaped : int
        Worker processes the supervisor started, and those that had exited
        and been reaped when the run ended.
    worker_pids : list of int
        Process ids of those workers.
    """

    strategy: str
    tier: str
    objective_ms: float
    trials: list[Trial] = field(default_factory=list)
    acked_writes: int = 0
    write_rate: float = 0.0
    workers_started: int = 0
    workers_reaped: int = 0
    worker_pids: list[int] = field(default_factory=list)

    @property
    def times_ms(self) -> list[float]:
        """Recovery times of the trials that recovered."""
        return [t.recovery_ms for t in self.trials if t.recovery_ms is not None]

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile of the recovery times (linear interpolation)."""
        times = self.times_ms
        return float(np.percentile(times, q)) if times else None

    @property
    def acked_writes_lost(self) -> int:
        """Acknowledged writes lost over all trials."""
        return sum(t.acked_writes_lost for t in self.trials)


@dataclass
class RecoverySuiteResult:
    """The suite's results and how it was run."""

    strategies: dict[str, StrategyResult]
    settings: dict[str, Any]

    def hot_vs_cold(self) -> float | None:
        """Median hot recovery time over median cold recovery time."""
        hot, cold = self.strategies.get("hot"), self.strategies.get("cold")
        if hot is None or cold is None:
            return None
        a, b = hot.percentile(50), cold.percentile(50)
        if a is None or not b:
            return None
        return a / b


def run_recovery_suite(
    trials: int = 20,
    strategies: Sequence[str] = ("hot", "warm", "cold"),
    *,
    seed: int = 0,
    write_rate: float = 100.0,
    heartbeat_ms: float = 20.0,
    gap_s: float = 0.2,
    snapshot_every_s: float = 1.0,
    trial_timeout_s: float = 15.0,
) -> RecoverySuiteResult:
    """Kill and recover one component per strategy, ``trials`` times each.

    Parameters
    ----------
    trials : int, default=20
        Kills per strategy.
    strategies : sequence of {"hot", "warm", "cold"}
        Strategies to measure, in this order.
    seed : int, default=0
        Seeds the random pause added before each kill, so kills do not fall
        at one fixed phase of the client load.
    write_rate : float, default=100.0
        Client writes per second.
    heartbeat_ms : float, default=20.0
        Heartbeat period of the failure detector.
    gap_s : float, default=0.2
        Longest random pause after a component is protected again and before
        the next kill.
    snapshot_every_s : float, default=1.0
        Period of the snapshots a cold standby starts from.
    trial_timeout_s : float, default=15.0
        Longest wait for one recovery and the rebuild of the standbys.

    Returns
    -------
    RecoverySuiteResult

    Raises
    ------
    ConfigError
        If a setting is out of range or a strategy is unknown.
    """
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ConfigError(
            f"`trials` of `run_recovery_suite` must be a positive integer; "
            f"got {trials!r}."
        )
    unknown = [s for s in strategies if s not in STRATEGY_TIERS]
    if unknown or not strategies:
        raise ConfigError(
            f"`strategies` of `run_recovery_suite` must be a non-empty selection "
            f"of {', '.join(STRATEGY_TIERS)}; got {list(strategies)!r}."
        )
    rng = random.Random(seed)
    results: dict[str, StrategyResult] = {}
    for strategy in strategies:
        supervisor = Supervisor()
        try:
            results[strategy] = asyncio.run(
                _run_strategy(
                    supervisor,
                    strategy,
                    trials,
                    rng,
                    write_rate=write_rate,
                    heartbeat_s=heartbeat_ms / 1e3,
                    gap_s=gap_s,
                    snapshot_every_s=snapshot_every_s,
                    trial_timeout_s=trial_timeout_s,
                )
            )
        finally:
            supervisor.kill_all_now()
        result = results[strategy]
        result.workers_started = len(supervisor.handles)
        result.worker_pids = [h.pid for h in supervisor.handles]
        result.workers_reaped = sum(
            1 for h in supervisor.handles if h.returncode is not None
        )
    settings = {
        "trials": trials,
        "seed": seed,
        "write_rate": write_rate,
        "heartbeat_ms": heartbeat_ms,
        "gap_s": gap_s,
        "snapshot_every_s": snapshot_every_s,
    }
    return RecoverySuiteResult(results, settings)


async def _run_strategy(
    supervisor: Supervisor,
    strategy: str,
    trials: int,
    rng: random.Random,
    *,
    write_rate: float,
    heartbeat_s: float,
    gap_s: float,
    snapshot_every_s: float,
    trial_timeout_s: float,
) -> StrategyResult:
    tier = TIERS[STRATEGY_TIERS[strategy]]
    name = f"bench-{strategy}"
    result = StrategyResult(strategy, tier.name, tier.objective_ms)
    with tempfile.TemporaryDirectory(prefix="qnrecovery-bench-") as tmp:
        async with supervisor, Router() as router:
            orchestrator = Orchestrator(
                supervisor, router, Path(tmp), heartbeat_s=heartbeat_s
            )
            snapshots: asyncio.Task[None] | None = None
            try:
                hosts = {"primary": "host-1", strategy: "host-2"}
                await orchestrator.add_component(name, tier, hosts)
                load = ClientLoad(router.port, [name], rate=write_rate)
                await load.start()
                snapshots = asyncio.create_task(
                    _snapshot_loop(orchestrator, name, snapshot_every_s)
                )
                lost_before = 0
                for _ in range(trials):
                    await asyncio.sleep(rng.uniform(0.0, gap_s))
                    trial, lost_before = await _trial(
                        orchestrator,
                        supervisor,
                        load,
                        name,
                        lost_before,
                        trial_timeout_s,
                    )
                    result.trials.append(trial)
                    if trial.recovery_ms is None:
                        logger.warning("%s: recovery failed; stopping", name)
                        break
                snapshots.cancel()
                report = await load.verify(orchestrator.dump)
                result.acked_writes = int(report[name]["acked_writes"])
                result.write_rate = float(report[name]["write_rate"])
            finally:
                if snapshots is not None:
                    snapshots.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await snapshots
                await orchestrator.close()
    return result


async def _snapshot_loop(orchestrator: Orchestrator, name: str, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if orchestrator.protected(name):
            await orchestrator.snapshot(name)


async def _trial(
    orchestrator: Orchestrator,
    supervisor: Supervisor,
    load: ClientLoad,
    name: str,
    lost_before: int,
    timeout: float,
) -> tuple[Trial, int]:
    """Kill the primary once, wait for the recovery, count the writes lost."""
    deadline = time.monotonic() + timeout
    while not orchestrator.protected(name):
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"{name} did not get its standbys back in time")
        await asyncio.sleep(0.005)

    in_flight = True
    try:
        await load.wait_write_in_flight(name, timeout=0.1)
    except RuntimeFailure:
        in_flight = False
    primary = orchestrator.components[name].primary
    assert primary is not None
    when = supervisor.kill(primary)
    orchestrator.note_fault(name, "kill", when)

    record = None
    while time.monotonic() < deadline:
        record = next(
            (r for r in reversed(orchestrator.records) if r.fault_time == when), None
        )
        if record is not None:
            break
        await asyncio.sleep(0.001)
    await orchestrator.settle(name, timeout=max(0.0, deadline - time.monotonic()))
    while not orchestrator.protected(name) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)

    lost_total = await _lost_so_far(orchestrator, load, name)
    trial = Trial(
        strategy=record.strategy if record else None,
        recovery_ms=record.recovery_ms if record and record.ok else None,
        detect_ms=record.detect_ms if record else None,
        escalations=record.escalations if record else 0,
        acked_writes_lost=max(0, lost_total - lost_before),
        write_in_flight=in_flight,
    )
    return trial, lost_total


async def _lost_so_far(orchestrator: Orchestrator, load: ClientLoad, name: str) -> int:
    """Writes acknowledged before now that the current primary lacks."""
    cutoff = time.monotonic()
    acked = [(k, v) for k, (v, t) in load.ledgers[name].acked.items() if t < cutoff]
    try:
        dump = await orchestrator.dump(name)
    except RuntimeFailure as err:
        logger.warning("%s: cannot dump the primary: %s", name, err)
        return len(acked)
    data = dump.get("data") or {}
    return sum(1 for key, value in acked if data.get(key, _MISSING) != value)


_MISSING = object()


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def format_recovery(result: RecoverySuiteResult) -> str:
    """The suite's results as a Markdown table, plus the hot/cold ratio.

    Per strategy: trials, recoveries, p50 / p99 / max recovery time in ms,
    the tier's objective, p99 over objective, escalations, acknowledged
    writes and how many were lost, and the workers started and reaped.
    """
    lines = [
        "| strategy | tier | trials | recovered | p50 ms | p99 ms | max ms "
        "| objective ms | p99 / objective | escalations | acked writes | lost "
        "| workers started / reaped |",
        "|" + "---|" * 13,
    ]
    for s in result.strategies.values():
        p99 = s.percentile(99)
        times = s.times_ms
        cells = (
            s.strategy,
            s.tier,
            str(len(s.trials)),
            str(len(times)),
            _fmt(s.percentile(50)),
            _fmt(p99),
            _fmt(max(times) if times else None),
            _fmt(s.objective_ms, 0),
            _fmt(None if p99 is None else p99 / s.objective_ms, 3),
            str(sum(t.escalations for t in s.trials)),
            str(s.acked_writes),
            str(s.acked_writes_lost),
            f"{s.workers_started} / {s.workers_reaped}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    ratio = result.hot_vs_cold()
    if ratio is not None:
        lines.append("")
        lines.append(f"hot / cold median recovery time: {ratio:.3f}")
    return "\n".join(lines)
