"""Conformance suite that every registered detector must pass.

The detectors come from the registry, so a new backend is checked as soon as
it is declared. Give a slow detector cheaper options in ``FAST_OPTIONS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qnrecovery.exceptions import DataError
from qnrecovery.registry import backend, entries

FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "isolation-forest": {"n_estimators": 30, "random_state": 0},
    "spiking": {"codegen_target": "numpy"},
    "zscore": {"window": 8},
}

DETECTORS = [entry.name for entry in entries("detector")]


def make(name: str) -> Any:
    return backend("detector", name, **FAST_OPTIONS.get(name, {}))


@pytest.fixture
def series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    train = rng.normal(size=(200, 3))
    test = rng.normal(size=(60, 3))
    test[30:34] += 6.0  # a burst that every detector should notice
    return train, test


@pytest.fixture(params=DETECTORS)
def detector(request: pytest.FixtureRequest, series) -> Any:
    train, _ = series
    return make(request.param).fit(train)


def test_scores_shape_and_range(detector, series):
    _, test = series
    scores = detector.score(test)
    assert scores.shape == (len(test),)
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= 0.0) & (scores <= 1.0))


def test_higher_is_more_anomalous(detector, series):
    _, test = series
    scores = detector.score(test)
    assert scores[30:34].mean() > np.median(scores)


def test_fitted_surface(detector, series):
    train, _ = series
    assert detector.decision_scores_.shape == (len(train),)
    assert 0.0 <= detector.threshold_ <= 1.0
    assert set(np.unique(detector.labels_)) <= {0, 1}
    assert detector.labels_.mean() <= 0.05


def test_scores_are_causal(detector, series):
    _, test = series
    full = detector.score(test)
    for t in (1, 7, 31, 45):
        np.testing.assert_array_equal(detector.score(test[:t]), full[:t])


def test_update_reproduces_score(detector, series):
    _, test = series
    batch = detector.score(test)
    streamed = np.array([detector.update(row) for row in test])
    np.testing.assert_array_equal(streamed, batch)

    # score() does not disturb the stream; reset() starts it again.
    detector.reset()
    first = [detector.update(row) for row in test[:10]]
    detector.score(test)
    rest = [detector.update(row) for row in test[10:]]
    np.testing.assert_array_equal(first + rest, batch)


@pytest.mark.parametrize("name", DETECTORS)
def test_one_dimensional_series(name):
    rng = np.random.default_rng(0)
    detector = make(name).fit(rng.normal(size=100))
    scores = detector.score(rng.normal(size=20))
    assert scores.shape == (20,)
    assert isinstance(detector.update(0.5), float)


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_raises(name, bad, series):
    train, test = series
    broken = train.copy()
    broken[5, 1] = bad
    with pytest.raises(DataError, match="finite"):
        make(name).fit(broken)
    detector = make(name).fit(train)
    broken = test.copy()
    broken[2, 0] = bad
    with pytest.raises(DataError, match="finite"):
        detector.score(broken)


@pytest.mark.parametrize("name", DETECTORS)
def test_empty_raises(name, series):
    train, _ = series
    with pytest.raises(DataError, match="at least one row"):
        make(name).fit(np.empty((0, 3)))
    with pytest.raises(DataError, match="at least one row"):
        make(name).fit(train).score(np.empty((0, 3)))


@pytest.mark.parametrize("name", DETECTORS)
def test_wrong_width_raises(name, series):
    train, test = series
    with pytest.raises(DataError, match="3 metrics"):
        make(name).fit(train).score(test[:, :2])


@pytest.mark.parametrize("name", DETECTORS)
def test_constant_series_scores_zero(name):
    constant = np.full((80, 2), 3.5)
    scores = make(name).fit(constant).score(constant[:20])
    np.testing.assert_array_equal(scores, np.zeros(20))
