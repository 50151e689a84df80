"""`qnrecovery bench --runtime ray`: suites as Ray tasks, same results."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qnrecovery.bench.cli_bench import run_benchmarks

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def no_ray_session_left() -> Iterator[None]:
    """Leave no Ray session behind: the drill tests start their own cluster."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


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
