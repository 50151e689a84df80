"""Tests of the ASD / SMD loader."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.data import ServerMetrics, load_server_metrics, load_servers
from qnrecovery.exceptions import ConfigError, DataError

ASD_SEGMENTS = {"omi-1": 7, "omi-2": 4, "omi-3": 6, "omi-4": 5, "omi-5": 6}
SMD_SEGMENTS = {
    "machine-1-6": 30,
    "machine-2-1": 13,
    "machine-2-2": 11,
    "machine-2-7": 20,
    "machine-3-3": 28,
}


def write_npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def good_arrays(t_train: int = 6, t_test: int = 8, d: int = 2) -> dict[str, object]:
    rng = np.random.default_rng(0)
    label = np.zeros(t_test)
    label[2:4] = 1
    label[6] = 1
    return {
        "train": rng.random((t_train, d)).astype(np.float32),
        "test": rng.random((t_test, d)).astype(np.float32),
        "test_label": label,
    }


# --- real data --------------------------------------------------------------


def test_asd_omi1_matches_source_table(shared_file: Callable[..., Path]) -> None:
    m = load_server_metrics(shared_file("asd", "omi-1.npz"))
    assert isinstance(m, ServerMetrics)
    assert m.name == "omi-1"
    assert m.train.shape == (8640, 19) and m.train.dtype == np.float64
    assert m.test.shape == (4320, 19)
    assert m.test_label.dtype == np.int8
    assert int(m.test_label.sum()) == 441
    assert len(m.segments) == 7
    assert m.segments[0] == (760, 765)
    assert m.interval_s == 300.0
    assert m.segment_metrics[0][:2] == (3, 4)  # file says 4,5 (1-based)


@pytest.mark.parametrize(("name", "count"), sorted(ASD_SEGMENTS.items()))
def test_asd_segments_cover_labels(
    shared_file: Callable[..., Path], name: str, count: int
) -> None:
    m = load_server_metrics(shared_file("asd", f"{name}.npz"))
    assert len(m.segments) == count
    mask = np.zeros_like(m.test_label)
    for start, end in m.segments:
        mask[start : end + 1] = 1
    np.testing.assert_array_equal(mask, m.test_label)


def test_smd_folder_segment_counts(shared_file: Callable[..., Path]) -> None:
    entities = load_servers(shared_file("smd"))
    assert {m.name: len(m.segments) for m in entities} == SMD_SEGMENTS
    m21 = next(m for m in entities if m.name == "machine-2-1")
    assert m21.interval_s == 60.0
    assert m21.test.shape == (23694, 38)
    # SMD's file says 6506-6528 with an exclusive end.
    assert m21.segments[0] == (6506, 6527)
    assert int(m21.test_label.sum()) == 1170
    for m in entities:
        mask = np.zeros_like(m.test_label)
        for start, end in m.segments:
            mask[start : end + 1] = 1
        np.testing.assert_array_equal(mask, m.test_label)


def test_smd_explicit_convention(shared_file: Callable[..., Path]) -> None:
    path = shared_file("smd", "machine-2-1.npz")
    m = load_server_metrics(path, segment_end_inclusive=False)
    assert m.segments[0] == (6506, 6527)


# --- segments ---------------------------------------------------------------


def test_segments_from_labels_without_file(tmp_path: Path) -> None:
    m = load_server_metrics(write_npz(tmp_path / "omi-x.npz", **good_arrays()))
    assert m.segments == [(2, 3), (6, 6)]
    assert m.segment_metrics == []
    assert m.interval_s == 300.0
    assert m.n_metrics == 2


@pytest.mark.parametrize(
    ("text", "inclusive"), [("2-3:1\n6-6:2\n", True), ("2-4:1,2\n6-7\n", False)]
)
def test_segment_file_convention_detected(
    tmp_path: Path, text: str, inclusive: bool
) -> None:
    path = write_npz(tmp_path / "machine-9-9.npz", **good_arrays())
    (tmp_path / "interpretation_label").mkdir()
    (tmp_path / "interpretation_label" / "machine-9-9.txt").write_text(text)
    m = load_server_metrics(path)
    assert m.segments == [(2, 3), (6, 6)]
    assert m.interval_s == 60.0


def test_segment_file_disagreeing_with_labels(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "omi-x.npz", **good_arrays())
    (tmp_path / "interpretation_label").mkdir()
    (tmp_path / "interpretation_label" / "omi-x.txt").write_text("1-3:1\n")
    with pytest.raises(DataError, match="neither inclusive nor exclusive"):
        load_server_metrics(path)


def test_segment_file_explicit_mismatch_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_npz(tmp_path / "omi-x.npz", **good_arrays())
    (tmp_path / "interpretation_label").mkdir()
    (tmp_path / "interpretation_label" / "omi-x.txt").write_text("2-3:1\n6-7:1\n")
    with caplog.at_level(logging.WARNING, logger="qnrecovery.data.servers"):
        m = load_server_metrics(path, segment_end_inclusive=True)
    assert m.segments == [(2, 3), (6, 7)]
    assert "do not match test_label" in caplog.text


def test_segment_file_malformed(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "omi-x.npz", **good_arrays())
    (tmp_path / "interpretation_label").mkdir()
    (tmp_path / "interpretation_label" / "omi-x.txt").write_text("2..3:1\n")
    with pytest.raises(DataError, match=r"line 1 of .* is not 'start-end"):
        load_server_metrics(path)


# --- NaN / inf --------------------------------------------------------------


def nan_arrays() -> dict[str, object]:
    arrays = good_arrays()
    train = np.asarray(arrays["train"], dtype=np.float64)
    train[0, 0] = np.nan  # before any finite value -> 0
    train[1, 0] = np.nan
    train[3, 1] = np.inf  # -> value of row 2
    arrays["train"] = train
    return arrays


def test_nan_raise_policy_counts(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "omi-x.npz", **nan_arrays())
    with pytest.raises(DataError, match=r"train .* has 3 NaN or infinite .*ffill"):
        load_server_metrics(path)


def test_nan_ffill_policy(tmp_path: Path) -> None:
    arrays = nan_arrays()
    train = np.asarray(arrays["train"])
    m = load_server_metrics(
        write_npz(tmp_path / "omi-x.npz", **arrays), nan_policy="ffill"
    )
    assert np.isfinite(m.train).all()
    assert m.train[0, 0] == 0.0 and m.train[1, 0] == 0.0
    assert m.train[2, 0] == train[2, 0]
    assert m.train[3, 1] == train[2, 1]
    np.testing.assert_array_equal(m.train[4:], train[4:])


def test_bad_nan_policy(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "omi-x.npz", **good_arrays())
    with pytest.raises(ConfigError, match=r"nan_policy .* 'raise' or 'ffill'"):
        load_server_metrics(path, nan_policy="zero")  # type: ignore[arg-type]


# --- malformed input --------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_server_metrics(tmp_path / "omi-404.npz")


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "omi-x.npz"
    path.write_text("not a zip at all")
    with pytest.raises(DataError, match=r"not a readable .npz archive"):
        load_server_metrics(path)


def test_single_npy_array_is_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "omi-x.npz"
    with path.open("wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(DataError, match=r"single array, not an .npz"):
        load_server_metrics(path)


def test_missing_key(tmp_path: Path) -> None:
    arrays = good_arrays()
    del arrays["test_label"]
    path = write_npz(tmp_path / "omi-x.npz", **arrays)
    with pytest.raises(DataError, match=r"lacks the array.* test_label"):
        load_server_metrics(path)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("train", np.zeros(6), "train .* must be 2-D"),
        ("test", np.zeros((8, 2, 1)), "test .* must be 2-D"),
        ("test_label", np.zeros((8, 1)), "test_label .* must be 1-D"),
        ("test", np.zeros((8, 3)), "different metric counts: 2 and 3"),
        ("test_label", np.zeros(7), "has 7 labels but test has 8 rows"),
        ("test_label", np.full(8, 2.0), "must hold only 0 and 1"),
        ("test_label", np.full(8, np.nan), "must hold only 0 and 1"),
        ("train", np.zeros((0, 2)), "train .* is empty"),
    ],
)
def test_bad_arrays(tmp_path: Path, key: str, value: np.ndarray, pattern: str) -> None:
    arrays = good_arrays()
    arrays[key] = value
    path = write_npz(tmp_path / "omi-x.npz", **arrays)
    with pytest.raises(DataError, match=pattern):
        load_server_metrics(path)


def test_empty_test_array(tmp_path: Path) -> None:
    arrays = good_arrays()
    arrays["test"] = np.zeros((0, 2))
    arrays["test_label"] = np.zeros(0)
    with pytest.raises(DataError, match=r"test .* is empty"):
        load_server_metrics(write_npz(tmp_path / "omi-x.npz", **arrays))


def test_unknown_entity_needs_interval(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "server.npz", **good_arrays())
    with pytest.raises(DataError, match="pass interval_s="):
        load_server_metrics(path)
    assert load_server_metrics(path, interval_s=10).interval_s == 10.0
    with pytest.raises(ConfigError, match=r"interval_s .* positive"):
        load_server_metrics(path, interval_s=-1)


def test_folder_without_npz(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"holds no .npz file"):
        load_servers(tmp_path)


def test_folder_natural_order(tmp_path: Path) -> None:
    for name in ("omi-10", "omi-2", "omi-1"):
        write_npz(tmp_path / f"{name}.npz", **good_arrays())
    assert [m.name for m in load_servers(tmp_path)] == ["omi-1", "omi-2", "omi-10"]
