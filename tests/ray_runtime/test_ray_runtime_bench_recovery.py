"""The recovery suite's fault kinds as Ray tasks: same plan, no lost writes.

Every fault kind starts a fleet of worker processes inside its Ray task.
Recovery times differ between runs, so only the plan (which kind on which
tier, how many faults) and the counts are compared with the local run.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.usefixtures("no_ray_session_left"),
]


def _workers() -> set[int]:
    """Pids of the worker processes running on this machine now."""
    found = subprocess.run(
        ["pgrep", "-f", "qnrecovery.runtime.worker"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {int(pid) for pid in found.stdout.split()} - {os.getpid()}


def _plan(trials: list[Any]) -> list[tuple[str, str]]:
    return sorted((t.kind, t.tier) for t in trials)


def test_fault_kinds_on_ray_follow_the_local_plan() -> None:
    pytest.importorskip("ray")
    from qnrecovery.bench.recovery import (
        SUITE_KINDS,
        run_fault_suite,
        summarise_trials,
    )
    from qnrecovery.bench.runs import LocalRuns, RayRuns

    before = _workers()
    local, local_extra = run_fault_suite(per_kind=1, seed=5, runs=LocalRuns())
    with RayRuns() as executor:
        on_ray, ray_extra = run_fault_suite(per_kind=1, seed=5, runs=executor)

    assert _plan(on_ray) == _plan(local)
    figures = summarise_trials(on_ray)
    assert figures["faults_per_kind"] == summarise_trials(local)["faults_per_kind"]
    assert figures["faults_per_kind"] == {
        kind: 3 if kind == "cascade" else 4 for kind in SUITE_KINDS
    }
    assert [t.kind for t in on_ray] == sorted(
        (t.kind for t in on_ray), key=SUITE_KINDS.index
    )
    assert all(t.recovery_ms is not None for t in on_ray)
    assert figures["hot_recoveries"] > 0
    assert figures["hot_recoveries_with_loss"] == 0
    for extra in (local_extra, ray_extra):
        assert extra["components_failed"] == []
        assert extra["epochs_with_two_primaries"] == 0
        assert extra["workers_started"] >= 9 * len(SUITE_KINDS)
        for tier in ("ultra-critical", "critical"):
            assert extra["load"][tier]["acked_writes"] > 0
    assert _workers() <= before
