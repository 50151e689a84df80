"""Forecasts: fault rows, labels, training masks and leakage-free prediction."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qnrecovery.classical.detectors import RollingZScoreDetector
from qnrecovery.classical.predictors import LogisticPredictor, make_failure_features
from qnrecovery.data import ServerMetrics, load_servers, sample_servers
from qnrecovery.exceptions import DataError
from qnrecovery.orchestrator.forecast import (
    fault_rows,
    forecast,
    horizon_labels,
    training_mask,
)

HORIZON, WINDOW = 12, 12


class SpyPredictor:
    """A logistic predictor that records what it was fitted on and asked about."""

    def __init__(self, log: list[tuple[str, np.ndarray]]) -> None:
        self.log = log
        self.model = LogisticPredictor(random_state=0)

    def fit(self, X: np.ndarray, y: np.ndarray) -> SpyPredictor:
        self.log.append(("fit", np.array(X)))
        self.model.fit(X, y)
        self.classes_ = self.model.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.log.append(("predict", np.array(X)))
        return self.model.predict_proba(X)


@pytest.fixture(scope="module")
def servers() -> list[ServerMetrics]:
    """Three bundled servers, cut to their first rows to keep the fits quick."""
    return [shortened(s, 2000) for s in sample_servers(["omi-1", "omi-2", "omi-3"])]


def shortened(server: ServerMetrics, n_rows: int) -> ServerMetrics:
    return ServerMetrics(
        name=server.name,
        train=server.train[: 2 * n_rows],
        test=server.test[:n_rows],
        test_label=server.test_label[:n_rows],
        segments=[(a, b) for a, b in server.segments if b < n_rows],
        interval_s=server.interval_s,
        source=server.source,
    )


def features_of(server: ServerMetrics) -> np.ndarray:
    scores = RollingZScoreDetector().fit(server.train).score(server.test)
    return make_failure_features(server.test, np.asarray(scores), WINDOW)


def synthetic(name: str, n_metrics: int = 2, segments: Any = ((30, 34),)) -> Any:
    rng = np.random.default_rng(0)
    test_label = np.zeros(80, dtype=np.int8)
    for start, end in segments:
        test_label[start : end + 1] = 1
    return ServerMetrics(
        name=name,
        train=rng.normal(size=(60, n_metrics)),
        test=rng.normal(size=(80, n_metrics)),
        test_label=test_label,
        segments=list(segments),
        interval_s=60.0,
        source="synthetic",
    )


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("segments", "n_rows", "expected"),
    [
        ([(2, 4), (7, 9)], 20, [5, 10]),
        ([(7, 9), (2, 4), (3, 4)], 20, [5, 10]),  # sorted, duplicates merged
        ([(0, 9)], 10, [10]),  # a segment at the end: the fault after the last row
        ([(5, 30)], 10, [10]),  # clipped to the series
        ([], 10, []),
    ],
)
def test_fault_rows(segments: list, n_rows: int, expected: list[int]) -> None:
    assert fault_rows(segments, n_rows) == expected


def test_horizon_labels() -> None:
    assert horizon_labels(10, [5], 3).tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert horizon_labels(10, [1, 9], 3).tolist() == [1, 0, 0, 0, 0, 0, 1, 1, 1, 0]
    assert horizon_labels(6, [6], 2).tolist() == [0, 0, 0, 0, 1, 1]
    assert horizon_labels(5, [], 3).sum() == 0
    assert horizon_labels(5, [3], 3).dtype == np.int8


def test_training_mask_drops_rows_deep_inside_long_segments() -> None:
    # Segment 2..7 with horizon 3: rows 2..4 are anomalous but labelled 0.
    mask = training_mask(10, [(2, 7)], 3)
    assert mask.tolist() == [True] * 2 + [False] * 3 + [True] * 5
    # A segment shorter than the horizon keeps every row.
    assert training_mask(10, [(2, 3)], 3).all()


# --------------------------------------------------------------- forecast


def test_forecast_leaves_the_target_server_out(
    servers: list[ServerMetrics],
) -> None:
    log: list[tuple[str, np.ndarray]] = []
    result = forecast(
        servers,
        [0, 0],
        RollingZScoreDetector,
        lambda: SpyPredictor(log),
        horizon=HORIZON,
        window=WINDOW,
    )

    assert list(result) == [0]
    target = result[0]
    n_rows = len(servers[0].test)
    assert target.server == "omi-1"
    assert target.trained_on == ["omi-2", "omi-3"]
    assert "leave one server out" in target.training
    assert target.probabilities.shape == target.scores.shape == (n_rows,)
    assert np.all((target.probabilities >= 0) & (target.probabilities <= 1))
    assert np.all((target.scores >= 0) & (target.scores <= 1))
    assert target.fault_rows == fault_rows(servers[0].segments, n_rows)
    assert {"detector_fit_s", "detector_score_s", "predictor_s"} <= set(target.timings)

    # Exactly one model, fitted on the usable rows of the other servers only.
    (fit_kind, fit_X), (predict_kind, predict_X) = log
    assert (fit_kind, predict_kind) == ("fit", "predict")
    expected = np.concatenate(
        [
            features_of(s)[training_mask(len(s.test), s.segments, HORIZON)]
            for s in servers[1:]
        ]
    )
    np.testing.assert_array_equal(fit_X, expected)
    np.testing.assert_array_equal(predict_X, features_of(servers[0]))


def test_forecast_on_one_server_uses_blocked_cross_fitting(
    servers: list[ServerMetrics],
) -> None:
    server = servers[0]
    log: list[tuple[str, np.ndarray]] = []
    result = forecast(
        [server],
        [0],
        RollingZScoreDetector,
        lambda: SpyPredictor(log),
        horizon=HORIZON,
        window=WINDOW,
    )[0]

    assert "blocked cross-fitting" in result.training
    matches = [re.fullmatch(r"omi-1\[(\d+):(\d+)\]", t) for t in result.trained_on]
    blocks = [(int(m[1]), int(m[2])) for m in matches if m is not None]
    assert len(blocks) == len(result.trained_on) == 4
    assert blocks[0][0] == 0 and blocks[-1][1] == len(server.test)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    # No block boundary cuts through an anomaly segment or its fault row.
    for _, cut in blocks[:-1]:
        assert not any(start <= cut <= end + 1 for start, end in server.segments)

    X = features_of(server)
    usable = training_mask(len(server.test), server.segments, HORIZON)
    fits = [x for kind, x in log if kind == "fit"]
    predictions = [x for kind, x in log if kind == "predict"]
    assert len(fits) == len(predictions) == len(blocks)
    for (start, stop), fit_X, predict_X in zip(blocks, fits, predictions, strict=True):
        train = usable.copy()
        train[start:stop] = False
        np.testing.assert_array_equal(fit_X, X[train])
        np.testing.assert_array_equal(predict_X, X[start:stop])
    assert np.all((result.probabilities >= 0) & (result.probabilities <= 1))
    assert result.probabilities.shape == (len(server.test),)


def test_forecast_refuses_servers_with_different_metric_counts() -> None:
    servers = [synthetic("a", 2), synthetic("b", 3)]
    with pytest.raises(DataError, match=r"same number of metrics; got \[2, 3\]"):
        forecast(
            servers,
            [0],
            RollingZScoreDetector,
            LogisticPredictor,
            horizon=3,
            window=4,
        )


def test_forecast_refuses_training_servers_without_anomalies() -> None:
    servers = [synthetic("a"), synthetic("b", segments=())]
    with pytest.raises(DataError, match="no labelled anomaly"):
        forecast(
            servers,
            [0],
            lambda: RollingZScoreDetector(window=10),
            LogisticPredictor,
            horizon=3,
            window=4,
        )


def test_non_finite_telemetry_is_refused_by_default(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    test = rng.normal(size=(20, 3))
    test[4, 1] = np.nan
    path = tmp_path / "omi-9.npz"
    np.savez(
        path,
        train=rng.normal(size=(30, 3)),
        test=test,
        test_label=np.zeros(20, dtype=np.int8),
    )
    with pytest.raises(DataError, match="omi-9"):
        load_servers(path)
    filled = load_servers(path, nan_policy="ffill")[0]
    assert np.isfinite(filled.test).all()
    assert filled.test[4, 1] == test[3, 1]
