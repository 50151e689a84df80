"""NAB scoring: hand-computed cases and agreement with NAB's published results."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.data.nab import read_nab_rows, read_nab_windows
from qnrecovery.data.nab_scoring import (
    PROFILES,
    NabFile,
    corpus_score,
    optimize_threshold,
    probationary_length,
    row_weights,
    scaled_sigmoid,
    score_file,
    write_nab_results,
)
from qnrecovery.exceptions import ConfigError, DataError

# 100 rows, one a minute; probation = floor(15) rows; one window on rows 40-49.
STAMPS = np.datetime64("2024-01-01T00:00") + np.arange(100).astype("timedelta64[m]")
WINDOWS = [(str(STAMPS[40]), str(STAMPS[49]))]
MAX_TP = 2 / (1 + math.exp(-5)) - 1  # scaled sigmoid at the window start


def detect(*rows: int) -> np.ndarray:
    scores = np.zeros(100)
    scores[list(rows)] = 1.0
    return scores


def test_probationary_length():
    assert probationary_length(100) == 15
    assert probationary_length(1127) == 169
    assert probationary_length(22695) == 750  # capped at 0.15 * 5000
    assert probationary_length(6) == 0


def test_scaled_sigmoid_values():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614298)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0


@pytest.mark.parametrize("profile", list(PROFILES))
def test_detection_at_window_start_is_worth_tp_weight(profile):
    result = score_file(STAMPS, detect(40), WINDOWS, profile, 0.5)
    assert result.score == pytest.approx(1.0)
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 0, 9, 75)
    assert result.total == 85


def test_detection_at_window_end():
    # position -(49 - 49 + 1) / 10 = -0.1: sigma = 2 / (1 + e^-0.5) - 1
    expected = (2 / (1 + math.exp(-0.5)) - 1) / MAX_TP
    result = score_file(STAMPS, detect(49), WINDOWS, "standard", 0.5)
    assert result.score == pytest.approx(expected)
    assert result.score == pytest.approx(0.248241, abs=1e-6)


def test_only_the_earliest_detection_in_a_window_counts():
    result = score_file(STAMPS, detect(45, 41, 48), WINDOWS, "standard", 0.5)
    early = score_file(STAMPS, detect(41), WINDOWS, "standard", 0.5)
    assert result.score == pytest.approx(early.score)
    assert result.tp == 3


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("standard", -0.11 - 1.0),
        ("reward_low_FP_rate", -0.22 - 1.0),
        ("reward_low_FN_rate", -0.11 - 2.0),
    ],
)
def test_detection_outside_any_window_each_profile(profile, expected):
    # Row 20 lies before the first window: -fp_weight; the window is missed.
    result = score_file(STAMPS, detect(20), WINDOWS, profile, 0.5)
    assert result.score == pytest.approx(expected)
    assert (result.tp, result.fp, result.fn) == (0, 1, 10)


def test_detection_after_a_window_is_scaled_by_distance():
    # The window is caught at its start (1.0); row 55 is a false alarm at
    # past = |49 - 55| / (10 - 1), worth 0.11 * sigma(past) < 0.
    past = 6 / 9
    expected = 1.0 + 0.11 * (2 / (1 + math.exp(5 * past)) - 1)
    result = score_file(STAMPS, detect(40, 55), WINDOWS, "standard", 0.5)
    assert result.score == pytest.approx(expected)
    assert expected == pytest.approx(1.0 - 0.102422, abs=1e-6)


def test_probationary_rows_are_not_scored():
    result = score_file(STAMPS, detect(5), WINDOWS, "standard", 0.5)
    assert result.score == pytest.approx(-1.0)
    assert result.fp == 0 and result.total == 85


def test_row_weights_before_inside_and_after():
    weights, window = row_weights(STAMPS, WINDOWS, "standard")
    assert weights[20] == pytest.approx(-0.11)
    assert weights[40] == pytest.approx(1.0)
    assert np.all(np.diff(weights[40:50]) < 0)  # earlier is better
    assert weights[50] > weights[60] > weights[99]  # cheaper right after a window
    assert set(window[40:50]) == {0} and window[39] == -1 and window[50] == -1


def test_normalisation_null_zero_perfect_hundred():
    files = [NabFile("a/x.csv", STAMPS, np.zeros(100), WINDOWS)]
    null = corpus_score(files, "standard", threshold=0.5)
    assert null.raw == -1.0 and null.normalized == 0.0
    perfect = corpus_score(
        [NabFile("a/x.csv", STAMPS, detect(40), WINDOWS)], "standard"
    )
    assert perfect.normalized == pytest.approx(100.0)
    assert perfect.threshold == 1.0


def test_threshold_is_optimised_over_all_files():
    scores_a = np.zeros(100)
    scores_a[40], scores_a[30] = 0.9, 0.95  # a false alarm above the detection
    scores_b = np.zeros(100)
    scores_b[42] = 0.8
    files = [
        NabFile("a/x.csv", STAMPS, scores_a, WINDOWS),
        NabFile("a/y.csv", STAMPS, scores_b, WINDOWS),
    ]
    threshold, raw = optimize_threshold(files, "standard")
    # At 0.8 both windows are caught and one false alarm (-0.11) is paid.
    expected = (
        1.0 - 0.11 + score_file(STAMPS, detect(42), WINDOWS, "standard", 0.5).score
    )
    assert threshold == 0.8
    assert raw == pytest.approx(expected)


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="Unknown NAB profile"):
        score_file(STAMPS, detect(40), WINDOWS, "lenient", 0.5)
    with pytest.raises(DataError, match="one value per row"):
        score_file(STAMPS, np.zeros(5), WINDOWS, "standard", 0.5)
    with pytest.raises(DataError, match="finite"):
        score_file(STAMPS, np.full(100, np.nan), WINDOWS, "standard", 0.5)
    overlapping = [*WINDOWS, (str(STAMPS[45]), str(STAMPS[60]))]
    with pytest.raises(DataError, match="overlap"):
        score_file(STAMPS, detect(40), overlapping, "standard", 0.5)
    with pytest.raises(DataError, match="at least one file"):
        optimize_threshold([], "standard")


def test_gaps_and_repeated_timestamps_are_scored_by_row():
    # A three-day gap and a repeated timestamp: NAB scores rows in file order.
    stamps = STAMPS.copy()
    stamps[70:] += np.timedelta64(3, "D")
    stamps[80] = stamps[79]
    result = score_file(stamps, detect(40, 85), WINDOWS, "standard", 0.5)
    assert result.tp == 1 and result.fp == 1
    assert result.total == 85


def test_write_nab_results_layout(tmp_path):
    labels = np.zeros(100, dtype=int)
    labels[40:50] = 1
    path = write_nab_results(
        tmp_path,
        "spiking",
        "realTraffic/x.csv",
        STAMPS,
        np.arange(100.0),
        detect(40),
        labels,
    )
    assert path == tmp_path / "spiking" / "realTraffic" / "spiking_x.csv"
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "value", "anomaly_score", "label"]
    assert rows[41] == ["2024-01-01 00:40:00", "40.0", "1.0", "1"]
    with pytest.raises(ConfigError, match=r"end in '\.csv'"):
        write_nab_results(tmp_path, "d", "x", STAMPS, detect(1), detect(1), labels)


# --------------------------------------------- agreement with NAB's own results


@pytest.fixture(scope="module")
def numenta(shared_data: Path) -> dict:
    """NAB's published results for its "numenta" detector on the shared files."""
    nab = shared_data / "nab"
    paths = sorted((nab / "reference" / "numenta").glob("*/numenta_*.csv"))
    if not paths:
        pytest.skip("no NAB reference results in the shared data")
    windows = read_nab_windows(nab / "labels" / "combined_windows.json")
    published = {}
    for profile in PROFILES:
        table = nab / "reference" / "numenta" / f"numenta_{profile}_scores.csv"
        with table.open() as handle:
            for row in csv.DictReader(handle):
                published[(profile, row["File"])] = row
    files = {}
    for path in paths:
        name = f"{path.parent.name}/{path.name.removeprefix('numenta_')}"
        stamps, _ = read_nab_rows(nab / "data" / name)
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        files[name] = {
            "stamps": stamps,
            "scores": np.array([float(r["anomaly_score"]) for r in rows]),
            "sweep": {
                p: np.array([float(r[f"S(t)_{p}"]) for r in rows]) for p in PROFILES
            },
            "windows": windows[name],
        }
    return {"files": files, "published": published}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_agrees_with_nab_published_scores_for_numenta(numenta, profile):
    """Every file: NAB's score, confusion counts and per-row weights, exactly."""
    for name, item in numenta["files"].items():
        row = numenta["published"][(profile, name)]
        got = score_file(
            item["stamps"],
            item["scores"],
            item["windows"],
            profile,
            float(row["Threshold"]),
        )
        assert got.score == pytest.approx(float(row["Score"]), abs=1e-9), name
        counts = (got.tp, got.tn, got.fp, got.fn, got.total)
        keys = ("TP", "TN", "FP", "FN", "Total_Count")
        assert counts == tuple(int(row[k]) for k in keys), name
        weights, _ = row_weights(item["stamps"], item["windows"], profile)
        np.testing.assert_allclose(weights, item["sweep"][profile], atol=1e-9)
    assert len(numenta["files"]) == 31


def test_numenta_subset_score_with_optimised_threshold(numenta):
    """The optimiser finds a threshold at least as good as NAB's full-corpus one."""
    files = [
        NabFile(name, item["stamps"], item["scores"], item["windows"])
        for name, item in numenta["files"].items()
    ]
    for profile in PROFILES:
        best = corpus_score(files, profile)
        at_published = corpus_score(files, profile, threshold=0.543099145074)
        assert best.raw >= at_published.raw - 1e-9
        assert best.null == -PROFILES[profile].fn * 53
        assert best.perfect == 53.0
    assert corpus_score(files, "standard").normalized == pytest.approx(69.52, abs=0.01)
