"""Tests of the bundled samples, load_telemetry and the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import qnrecovery.data as qdata
from qnrecovery.data import (
    SAMPLE_SERVERS,
    NabSeries,
    ServerMetrics,
    load_nab,
    load_server_metrics,
    load_telemetry,
    load_topology,
    nab_to_server_metrics,
    sample_nab,
    sample_path,
    sample_servers,
    sample_topology,
)
from qnrecovery.exceptions import DataError

MAX_SAMPLE_BYTES = 12 * 1024 * 1024


def test_samples_are_package_resources() -> None:
    root = files("qnrecovery.data") / "samples"
    assert root.joinpath("asd", "omi-1.npz").is_file()
    assert sample_path() == Path(str(root))
    for folder in ("asd", "nab", "topology_zoo"):
        assert (sample_path(folder) / "SOURCE.md").is_file()
    assert (sample_path("asd") / "LICENSE").is_file()
    assert (sample_path("nab") / "LICENSE.txt").is_file()
    assert (sample_path("topology_zoo") / "LICENSE").is_file()


def test_samples_total_size() -> None:
    total = sum(p.stat().st_size for p in sample_path().rglob("*") if p.is_file())
    assert total < MAX_SAMPLE_BYTES


def test_sample_path_unknown() -> None:
    with pytest.raises(DataError, match=r"no bundled sample at 'asd/omi-9.npz'"):
        sample_path("asd", "omi-9.npz")


def test_sample_servers_match_shared(shared_file: Callable[..., Path]) -> None:
    samples = sample_servers()
    assert [m.name for m in samples] == list(SAMPLE_SERVERS)
    for m in samples:
        shared = load_server_metrics(shared_file("asd", f"{m.name}.npz"))
        assert m.segments == shared.segments
        assert m.segment_metrics == shared.segment_metrics
        np.testing.assert_array_equal(m.test_label, shared.test_label)
        np.testing.assert_array_equal(m.train, shared.train)


def test_sample_servers_subset() -> None:
    (m,) = sample_servers(["omi-3"])
    assert m.name == "omi-3" and len(m.segments) == 6
    with pytest.raises(DataError, match="no bundled ASD server named 'omi-9'"):
        sample_servers(["omi-9"])


def test_sample_nab_matches_shared(shared_file: Callable[..., Path]) -> None:
    samples = sample_nab()
    assert len(samples) == 7
    assert all(s.name.startswith("realKnownCause/") for s in samples)
    shared = {s.name: s for s in load_nab(shared_file("nab"), sort=True, dedupe="last")}
    for s in samples:
        assert s.windows == shared[s.name].windows
        np.testing.assert_array_equal(s.values, shared[s.name].values)
        np.testing.assert_array_equal(s.labels, shared[s.name].labels)


def test_sample_nab_windows_file_restricted(shared_file: Callable[..., Path]) -> None:
    bundled = json.loads(
        sample_path("nab", "labels", "combined_windows.json").read_text()
    )
    full = json.loads(shared_file("nab", "labels", "combined_windows.json").read_text())
    csvs = sorted(
        p.name for p in sample_path("nab", "data", "realKnownCause").iterdir()
    )
    assert sorted(bundled) == [f"realKnownCause/{c}" for c in csvs]
    assert all(bundled[k] == full[k] for k in bundled)


def test_sample_topology_matches_shared(shared_file: Callable[..., Path]) -> None:
    g = sample_topology()
    assert isinstance(g, nx.MultiGraph)
    shared = load_topology(shared_file("topology_zoo", "graphml", "Abilene.graphml"))
    assert sorted(g.edges(data="latency_ms")) == sorted(shared.edges(data="latency_ms"))


# --- load_telemetry ---------------------------------------------------------


def test_telemetry_npz_file_and_folder() -> None:
    (one,) = load_telemetry(sample_path("asd", "omi-2.npz"))
    assert one.name == "omi-2" and len(one.segments) == 4
    assert [m.name for m in load_telemetry(sample_path("asd"))] == list(SAMPLE_SERVERS)


def test_telemetry_nab_csv() -> None:
    (m,) = load_telemetry(sample_path("nab", "data", "realKnownCause", "nyc_taxi.csv"))
    assert isinstance(m, ServerMetrics)
    assert m.train.shape == (1548, 1)  # floor(0.15 * 10320)
    assert m.test.shape == (10320 - 1548, 1)
    assert m.interval_s == 1800.0
    assert len(m.segments) == 5
    for start, end in m.segments:
        assert m.test_label[start : end + 1].all()
    assert m.test_label.sum() == sum(e - s + 1 for s, e in m.segments)


def test_telemetry_nab_root() -> None:
    converted = load_telemetry(sample_path("nab"))
    assert len(converted) == 7
    assert all(m.n_metrics == 1 for m in converted)


def test_nab_to_server_metrics_too_short() -> None:
    stamps = np.array(["2020-01-01T00:00", "2020-01-01T00:05"], dtype="datetime64[s]")
    series = NabSeries(
        name="x/y.csv",
        timestamps=stamps,
        values=np.zeros(2),
        windows=[],
        labels=np.zeros(2, dtype=np.int8),
    )
    with pytest.raises(DataError, match="leaves train or test empty"):
        nab_to_server_metrics(series)


def test_telemetry_nonexistent(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere' does not exist"):
        load_telemetry(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["data.txt", "empty_dir"])
def test_telemetry_unsupported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("x")
    else:
        path.mkdir()
    with pytest.raises(DataError, match=r"neither an .npz file"):
        load_telemetry(path)


# --- package surface --------------------------------------------------------


def test_all_exports_exist() -> None:
    for name in qdata.__all__:
        assert hasattr(qdata, name), name
    assert sorted(qdata.__all__) == sorted(set(qdata.__all__))


def test_import_is_light() -> None:
    code = (
        "import sys, qnrecovery.data; "
        "print('networkx' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
