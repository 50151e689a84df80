"""Tests of the benchmark harness and a tiny run of the recovery suite."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from qnrecovery.bench.harness import (
    ComparisonResult,
    Measurement,
    compare,
    format_table,
)
from qnrecovery.bench.harness import ratio as time_ratio
from qnrecovery.exceptions import ConfigError


def fake_clock(
    monkeypatch: pytest.MonkeyPatch, step_s: dict[str, float]
) -> tuple[list[str], Callable[[str], Callable[[], str]]]:
    """Make each timed call last ``step_s[side]`` on a fake perf_counter."""
    calls: list[str] = []
    clock = {"t": 0.0}

    def perf_counter() -> float:
        return clock["t"]

    def side(name: str) -> Callable[[], str]:
        def run() -> str:
            calls.append(name)
            clock["t"] += step_s[name]
            return name

        return run

    monkeypatch.setattr("qnrecovery.bench.harness.time.perf_counter", perf_counter)
    return calls, side


def test_ratio_is_candidate_over_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, side = fake_clock(monkeypatch, {"fast": 0.002, "slow": 0.008})
    result = compare("x", side("slow"), side("fast"), repeats=4)

    assert result.candidate.times_s == pytest.approx((0.008,) * 4)
    assert result.baseline.times_s == pytest.approx((0.002,) * 4)
    assert result.ratio == pytest.approx(4.0)
    assert result.candidate.score is None and result.baseline.score is None
    # Alternating order: neither side always runs first.
    assert calls[:4] == ["slow", "fast", "fast", "slow"]


def test_median_p90_and_scores() -> None:
    m = Measurement("m", (0.001, 0.002, 0.003, 0.004, 0.100), (1.0, 3.0, 2.0, 5.0, 4.0))
    assert m.median_s == pytest.approx(0.003)
    assert m.p90_s == pytest.approx(0.0616)
    assert m.score == pytest.approx(3.0)


def test_score_is_taken_per_run() -> None:
    answers = iter(range(100))
    result = compare(
        "q", lambda: next(answers), lambda: 10, repeats=3, score=lambda a: 2.0 * a
    )
    assert len(result.candidate.scores) == 3
    assert result.baseline.scores == (20.0, 20.0, 20.0)
    assert math.isfinite(result.ratio) and result.ratio > 0


def test_ratio_with_zero_baseline() -> None:
    assert time_ratio(1.0, 0.0) == math.inf
    assert math.isnan(time_ratio(0.0, 0.0))
    assert time_ratio(3.0, 1.5) == pytest.approx(2.0)


@pytest.mark.parametrize("repeats", [0, -1, 1.5, True])
def test_repeats_are_checked(repeats: object) -> None:
    with pytest.raises(ConfigError, match="`repeats` of `compare` must be a positive"):
        compare("x", lambda: 1, lambda: 1, repeats=repeats)  # type: ignore[arg-type]


def test_format_table_is_markdown() -> None:
    result = ComparisonResult(
        "placement 8x8",
        Measurement("greedy", (0.001, 0.001, 0.001), (10.0,)),
        Measurement("milp", (0.004, 0.004, 0.004), (9.5,)),
        {"feasible": "3/3", "mean gap": 0.05},
    )
    lines = format_table([result]).splitlines()

    assert len(lines) == 3
    assert lines[0].startswith("| benchmark | candidate | baseline |")
    assert lines[1] == "|" + "---|" * 11
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert len(cells) == 11
    assert cells[:3] == ["placement 8x8", "greedy", "milp"]
    assert cells[3] == "1" and cells[5] == "4"
    assert cells[7] == "0.25"
    assert cells[8:10] == ["10", "9.5"]
    assert cells[10] == "feasible: 3/3; mean gap: 0.05"


def test_optimizer_suites_run_small() -> None:
    from qnrecovery.bench.optimizers import path_suite, placement_suite

    results = placement_suite(sizes=((4, 6),), instances=2, repeats=1)
    results += path_suite(repeats=1)
    assert [r.candidate.label for r in results] == ["greedy", "exhaustive"]
    for r in results:
        assert math.isfinite(r.ratio) and r.ratio > 0
        assert r.candidate.score >= r.baseline.score - 1e-9
    assert results[1].notes["disagreements"] == 0


def is_live_worker(pid: int) -> bool:
    """Whether ``pid`` is still a worker process or a zombie (not reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            worker = b"qnrecovery.runtime.worker" in cmdline.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state == "Z" or worker


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_tiny_recovery_run_is_finite_and_reaps() -> None:
    from qnrecovery.bench.recovery import format_recovery, run_recovery_suite

    result = run_recovery_suite(trials=2, strategies=("hot",), seed=0)
    hot = result.strategies["hot"]

    assert len(hot.trials) == 2
    for trial in hot.trials:
        assert trial.strategy == "hot"
        assert trial.recovery_ms is not None and math.isfinite(trial.recovery_ms)
        assert 0 < trial.recovery_ms < 5_000
        assert trial.acked_writes_lost == 0
    assert hot.acked_writes > 0
    assert hot.workers_started >= 3
    assert hot.workers_reaped == hot.workers_started
    for pid in hot.worker_pids:
        assert not is_live_worker(pid)
    assert "| hot | critical | 2 | 2 |" in format_recovery(result)


def _kind_extra(acked: int, seconds: float, false: int, workers: int) -> dict:
    row = {
        "acked_writes": acked,
        "acked_writes_lost": 1,
        "write_rate": acked / seconds,
        "failed_writes": 0,
        "duration_s": seconds,
    }
    tiers = ("ultra-critical", "critical", "important", "standard")
    return {
        "load": {tier: dict(row) for tier in tiers},
        "components_failed": ["standard"] if false else [],
        "false_failovers": false,
        "false_failover_causes": ["critical: missed heartbeats"] * false,
        "epochs_with_two_primaries": 0,
        "stale_replies_dropped": 2,
        "workers_started": workers,
    }


def test_fault_kinds_extra_figures_are_summed_and_named_by_kind() -> None:
    from qnrecovery.bench.recovery import merge_extra

    merged = merge_extra(
        ["kill", "hang"], [_kind_extra(100, 1.0, 0, 10), _kind_extra(300, 2.0, 2, 12)]
    )

    critical = merged["load"]["critical"]
    assert critical["acked_writes"] == 400 and critical["acked_writes_lost"] == 2
    assert critical["write_rate"] == pytest.approx(400 / 3.0)
    assert critical["duration_s"] == pytest.approx(3.0)
    assert merged["false_failovers"] == 2
    assert merged["false_failover_causes"] == ["hang: critical: missed heartbeats"] * 2
    assert merged["components_failed"] == ["hang: standard"]
    assert merged["stale_replies_dropped"] == 4
    assert merged["workers_started"] == 22
    assert merged["epochs_with_two_primaries"] == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"per_kind": 0}, "per_kind"),
        ({"kinds": ("kill", "flood")}, "kinds"),
        ({"kinds": ()}, "kinds"),
    ],
)
def test_fault_suite_rejects_bad_settings(options: dict, message: str) -> None:
    from qnrecovery.bench.recovery import run_fault_suite

    with pytest.raises(ConfigError, match=message):
        run_fault_suite(**options)


def _live_workers() -> list[int]:
    import os

    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and is_live_worker(int(entry)):
            pids.append(int(entry))
    return pids


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_one_fault_kind_is_one_run_with_a_fleet_of_its_own() -> None:
    from qnrecovery.bench.recovery import KIND_CPUS, run_fault_suite
    from qnrecovery.bench.runs import LocalRuns, Progress, Run

    class Recording(LocalRuns):
        def __init__(self) -> None:
            self.runs: list[Run] = []

        def map(
            self,
            runs: Sequence[Run],
            progress: Progress | None = None,
            *,
            span: tuple[float, float] = (0.0, 1.0),
        ) -> list[Any]:
            self.runs += runs
            return super().map(runs, progress, span=span)

    before = set(_live_workers())
    executor = Recording()
    trials, extra = run_fault_suite(per_kind=1, seed=0, kinds=("kill",), runs=executor)

    assert [r.label for r in executor.runs] == ["kill faults"]
    assert executor.runs[0].num_cpus == KIND_CPUS == 2.0
    assert executor.runs[0].kwargs["kind"] == "kill"
    assert sorted(t.tier for t in trials) == [
        "critical",
        "important",
        "standard",
        "ultra-critical",
    ]
    assert all(t.kind == "kill" and t.recovery_ms is not None for t in trials)
    assert all(t.acked_writes_lost == 0 for t in trials if t.strategy == "hot")
    assert extra["workers_started"] >= 9
    assert extra["load"]["critical"]["acked_writes"] > 0
    assert set(_live_workers()) <= before
