"""Detector suite runs as Ray tasks: the same figures as in this process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.bench.detectors import (
    DetectorRun,
    default_variants,
    nab_suite,
    server_suite,
)
from qnrecovery.bench.runs import LocalRuns
from qnrecovery.data import sample_path
from qnrecovery.exceptions import DataError

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.usefixtures("no_ray_session_left"),
]

#: The two shortest files of the bundled NAB sample.
NAB_FILES = (
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realKnownCause/rogue_agent_key_hold.csv",
)


def _figures(runs: list[DetectorRun]) -> list[tuple[str, int, dict]]:
    return [(run.label, run.rows, run.metrics) for run in runs]


def _nab_root(root: Path, files: dict[str, str]) -> Path:
    """A NAB folder holding `files` (name to CSV text, or None: the sample's)."""
    sample = sample_path("nab")
    (root / "labels").mkdir(parents=True)
    shutil.copy(sample / "labels" / "combined_windows.json", root / "labels")
    for name, text in files.items():
        (root / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        if text:
            (root / "data" / name).write_text(text)
        else:
            shutil.copy(sample / "data" / name, root / "data" / name)
    return root


def _entity(path: Path, rng: np.random.Generator, burst: int) -> None:
    label = np.zeros(200, dtype=np.int8)
    label[burst : burst + 10] = 1
    test = rng.normal(size=(200, 3))
    test[burst : burst + 10] += 8.0
    np.savez(path, train=rng.normal(size=(300, 3)), test=test, test_label=label)


def test_detector_runs_on_ray_give_the_local_figures(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from qnrecovery.bench.runs import RayRuns

    variants = [
        v for v in default_variants(0, "numpy") if v.label in ("spiking", "zscore")
    ]
    assert [v.label for v in variants] == ["spiking", "zscore"]
    nab = _nab_root(tmp_path / "nab", dict.fromkeys(NAB_FILES, ""))
    short = _nab_root(
        tmp_path / "short",
        {"tiny/short.csv": "timestamp,value\n2020-01-01 00:00:00,1.0\n"},
    )
    servers = tmp_path / "servers"
    rng = np.random.default_rng(0)
    for folder, name, burst in (
        ("asd", "omi-1", 60),
        ("asd", "omi-2", 120),
        ("smd", "machine-1-1", 90),
    ):
        (servers / folder).mkdir(parents=True, exist_ok=True)
        _entity(servers / folder / f"{name}.npz", rng, burst)

    local_nab = nab_suite(
        nab, variants, results_dir=tmp_path / "local", runs=LocalRuns()
    )
    local_servers = server_suite(
        servers, variants, max_train_rows=250, runs=LocalRuns()
    )
    steps: list[str] = []
    with RayRuns() as executor:
        ray_nab = nab_suite(
            nab,
            variants,
            results_dir=tmp_path / "ray",
            runs=executor,
            progress=lambda step, _fraction: steps.append(step),
        )
        ray_servers = server_suite(servers, variants, max_train_rows=250, runs=executor)
        with pytest.raises(DataError, match="at least 14 rows"):
            nab_suite(short, variants, runs=executor)

    assert steps[0] == "4 runs queued on Ray"
    assert _figures(ray_nab) == _figures(local_nab)
    assert _figures(ray_servers) == _figures(local_servers)
    assert [r.metrics["entities"] for r in ray_servers] == [2, 2, 1, 1]
    # Brian2 generated and ran the spiking network in the Ray workers.
    assert ray_nab[0].label == "spiking"
    assert ray_nab[0].metrics["standard"]["raw"] != 0.0
    written = sorted(
        p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.csv")
    )
    assert len(written) == 4
    for relative in written:
        local_file = (tmp_path / "local" / relative).read_bytes()
        assert (tmp_path / "ray" / relative).read_bytes() == local_file
