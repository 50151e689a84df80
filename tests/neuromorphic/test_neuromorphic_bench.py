"""Detector benchmark suite: the metric functions and small runs of the suites."""

from __future__ import annotations

import numpy as np
import pytest

from qnrecovery.bench.detectors import (
    Variant,
    default_variants,
    event_scores,
    nab_suite,
    point_adjusted_scores,
    point_scores,
    server_suite,
)
from qnrecovery.exceptions import ConfigError, DataError

#                 0  1  2  3  4  5  6  7  8  9
LABELS = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
FLAGS = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 1])


def test_point_scores_by_hand():
    # tp = 1 (row 2), flagged = 3, labelled = 5
    scores = point_scores(LABELS, FLAGS)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == pytest.approx(1 / 5)
    assert scores["f1"] == pytest.approx(2 * (1 / 3) * (1 / 5) / (1 / 3 + 1 / 5))


def test_event_scores_by_hand():
    # events: rows 1-3 (found), 6-7 (missed); alarms: 2 (right), 5, 9 (wrong)
    scores = event_scores(LABELS, FLAGS)
    assert scores["recall"] == pytest.approx(1 / 2)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)


def test_point_adjustment_inflates_and_is_separate():
    # The found event 1-3 counts whole: tp = 3, flagged = 5, labelled = 5.
    adjusted = point_adjusted_scores(LABELS, FLAGS)
    assert adjusted["precision"] == pytest.approx(3 / 5)
    assert adjusted["recall"] == pytest.approx(3 / 5)
    assert adjusted["f1"] > point_scores(LABELS, FLAGS)["f1"]


def test_metrics_edge_cases():
    nothing = np.zeros(5, dtype=int)
    assert point_scores(nothing, nothing) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }
    assert event_scores(nothing, nothing)["f1"] == 0.0
    with pytest.raises(DataError, match="one length"):
        point_scores(LABELS, FLAGS[:3])


def test_default_variants_hold_both_ablations():
    labels = [v.label for v in default_variants()]
    assert labels[0] == "spiking"
    assert "spiking, plasticity off" in labels
    assert "encoder alone (no network)" in labels
    assert {"zscore", "isolation-forest"} <= set(labels)


def test_nab_suite_on_one_file_writes_nab_layout(shared_data, tmp_path):
    variants = [Variant("zscore", "zscore", "zscore", {"window": 20})]
    runs = nab_suite(
        shared_data / "nab", variants, quick=True, max_files=1, results_dir=tmp_path
    )
    assert runs[0].metrics["files"] == 1
    assert set(runs[0].metrics) >= {"standard", "reward_low_FP_rate", "files"}
    written = list((tmp_path / "zscore").glob("*/zscore_*.csv"))
    assert len(written) == 1
    header = written[0].read_text().splitlines()[0]
    assert header == "timestamp,value,anomaly_score,label"
    assert runs[0].points_per_s > 0
    with pytest.raises(ConfigError, match="`max_files`"):
        nab_suite(shared_data / "nab", variants, max_files=0)


def test_server_suite_on_small_files(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "asd").mkdir()
    label = np.zeros(200, dtype=np.int8)
    label[100:110] = 1
    test = rng.normal(size=(200, 3))
    test[100:110] += 8.0
    np.savez(
        tmp_path / "asd" / "omi-x.npz",
        train=rng.normal(size=(300, 3)),
        test=test,
        test_label=label,
    )
    variants = [
        Variant("zscore", "zscore", "zscore", {"window": 30}),
        Variant("spiking", "spiking", "spiking", {"codegen_target": "numpy"}),
    ]
    runs = server_suite(tmp_path, variants, max_train_rows=250)
    assert [r.label for r in runs] == ["ASD: zscore", "ASD: spiking"]
    for run in runs:
        assert run.metrics["entities"] == 1
        assert run.metrics["event"]["recall"] == 1.0  # the +8 burst is found
        assert run.metrics["point_adjusted"]["f1"] >= run.metrics["point"]["f1"]
    with pytest.raises(ConfigError, match="`max_train_rows`"):
        server_suite(tmp_path, variants, max_train_rows=0)
    with pytest.raises(ConfigError, match="`flag_share`"):
        server_suite(tmp_path, variants, flag_share=0.0)
    with pytest.raises(DataError, match="No ASD"):
        server_suite(tmp_path / "empty", variants)
