"""`qnrecovery bench --runtime ray`: suites as Ray tasks, same results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qnrecovery.bench.cli_bench import run_benchmarks
from qnrecovery.bench.harness import ComparisonResult
from qnrecovery.bench.runs import RunExecutor

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.usefixtures("no_ray_session_left"),
]


def _quality(out: Path) -> list[tuple[str, str, list[float], str]]:
    figures = json.loads((out / "placement" / "results.json").read_text())["figures"]
    return [
        (row["size"], row["method"], row["gaps"], row["feasible"])
        for row in figures["methods"]
    ]


def test_suites_on_ray_give_the_local_results(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    local = run_benchmarks(
        ["placement", "baselines"], quick=True, seed=3, out=tmp_path / "local"
    )
    on_ray = run_benchmarks(
        ["placement", "baselines"],
        quick=True,
        seed=3,
        out=tmp_path / "ray",
        runtime="ray",
    )

    assert [o.status for o in local] == [o.status for o in on_ray] == ["ok", "ok"]
    assert _quality(tmp_path / "ray") == _quality(tmp_path / "local")
    index = (tmp_path / "ray" / "index.md").read_text()
    assert "placement" in index and "baselines" in index


def test_exact_kernel_gram_blocks_as_ray_tasks_equal_the_local_product() -> None:
    pytest.importorskip("ray")
    import numpy as np

    from qnrecovery.quantum.kernel import PauliZMap, fidelity_gram

    rng = np.random.default_rng(0)
    feature_map = PauliZMap(num_qubits=4)
    states_a = feature_map.statevectors(rng.uniform(0, np.pi, size=(23, 4)))
    states_b = feature_map.statevectors(rng.uniform(0, np.pi, size=(17, 4)))

    local = fidelity_gram(states_a, states_b)
    on_ray = fidelity_gram(states_a, states_b, ray_block=8)

    np.testing.assert_allclose(on_ray, local, rtol=0, atol=1e-12)


def test_placement_building_blocks_as_ray_runs_equal_the_local_ones() -> None:
    pytest.importorskip("ray")
    from qnrecovery.bench.optimizers import placement_suite
    from qnrecovery.bench.placement import _timing_rows, budget_curve, compare_methods
    from qnrecovery.bench.runs import LocalRuns, RayRuns

    def untimed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in r.items() if k not in ("median_s", "wall_s")}
            for r in rows
        ]

    def quality(rows: list[ComparisonResult]) -> list[tuple[Any, ...]]:
        return [(r.name, r.candidate.scores, r.baseline.scores, r.notes) for r in rows]

    def measure(runs: RunExecutor) -> tuple[Any, ...]:
        return (
            untimed(compare_methods([(8, 5), (12, 6)], 2, seed=3, runs=runs)),
            untimed(
                budget_curve((10, 5), 2, seed=3, budgets=((2, 20), (4, 50)), runs=runs)
            ),
            quality(_timing_rows([(8, 5), (10, 5)], seed=3, repeats=2, runs=runs)),
            quality(
                placement_suite(
                    sizes=((4, 6), (6, 6)), instances=2, repeats=1, seed=5, runs=runs
                )
            ),
        )

    local = measure(LocalRuns())
    with RayRuns() as executor:
        on_ray = measure(executor)

    assert on_ray == local
