"""Tests specific to the classical detectors (the shared contract lives in
``test_detector_conformance.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from qnrecovery.classical.detectors import (
    IsolationForestDetector,
    RollingZScoreDetector,
)
from qnrecovery.exceptions import ConfigError, NotFittedError


def test_zscore_constant_metric_that_moves_stays_finite():
    train = np.column_stack([np.zeros(50), np.tile([-1.0, 1.0], 25)])
    detector = RollingZScoreDetector(window=10).fit(train)
    scores = detector.score(np.array([[0.0, 0.0], [1e-3, 0.0], [5.0, 0.0]]))
    assert np.all(np.isfinite(scores))
    assert scores[0] == 0.0
    assert scores[2] == pytest.approx(1.0)


def test_zscore_maps_threshold_to_one_minus_inverse_e():
    train = np.tile([-1.0, 1.0], 30)  # mean 0, std 1 over any even window
    detector = RollingZScoreDetector(window=10, threshold=3.0).fit(train)
    assert detector.score([3.0])[0] == pytest.approx(1 - np.exp(-1))


def test_zscore_short_training_history():
    detector = RollingZScoreDetector(window=10).fit([1.0])
    assert detector.score([5.0, 5.0, 5.0])[0] == 0.0  # under two rows of history


def test_isolation_forest_is_reproducible():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(300, 2)), rng.normal(size=(20, 2))
    first = IsolationForestDetector(n_estimators=20, random_state=3).fit(train)
    second = clone(first).fit(train)
    np.testing.assert_array_equal(first.score(test), second.score(test))


@pytest.mark.parametrize(
    ("detector", "match"),
    [
        (RollingZScoreDetector(window=1), "`window` of `RollingZScoreDetector`"),
        (RollingZScoreDetector(threshold=0), "`threshold` of `RollingZScoreDetector`"),
        (RollingZScoreDetector(contamination=0.7), "`contamination`.*got 0.7"),
        (IsolationForestDetector(n_estimators=0), "`n_estimators`.*got 0"),
    ],
)
def test_bad_parameters_are_named(detector, match):
    with pytest.raises(ConfigError, match=match):
        detector.fit(np.zeros((10, 1)))


@pytest.mark.parametrize("cls", [RollingZScoreDetector, IsolationForestDetector])
def test_not_fitted(cls):
    with pytest.raises(NotFittedError, match="call `fit` first"):
        cls().score(np.zeros((3, 1)))


def test_predict_uses_threshold():
    rng = np.random.default_rng(0)
    detector = IsolationForestDetector(n_estimators=20, random_state=0)
    detector.fit(rng.normal(size=(200, 2)))
    labels = detector.predict(np.array([[0.0, 0.0], [50.0, 50.0]]))
    np.testing.assert_array_equal(labels, [0, 1])
