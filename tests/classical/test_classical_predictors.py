"""Tests of the classical predictors and the failure-feature helper."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from qnrecovery.classical.predictors import (
    GradientBoostingPredictor,
    LogisticPredictor,
    RBFSVCPredictor,
    make_failure_features,
)
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.registry import backend, entries

PREDICTORS = [
    LogisticPredictor(random_state=0),
    GradientBoostingPredictor(max_iter=20, random_state=0),
    RBFSVCPredictor(random_state=0),
]
PREDICTOR_NAMES = [e.name for e in entries("predictor")]


def _expected_failed(estimator: object) -> dict[str, str]:
    if isinstance(estimator, RBFSVCPredictor):
        return {
            "check_class_weight_classifiers": (
                "Platt calibration is fitted on held-out folds without the class "
                "weights, so an extreme class_weight on the SVC does not carry "
                "through to the calibrated predictions this check inspects."
            )
        }
    return {}


@parametrize_with_checks(PREDICTORS, expected_failed_checks=_expected_failed)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0.8).astype(int)
    return X, y


@pytest.mark.parametrize("name", PREDICTOR_NAMES)
def test_registered_predictor_fits(name, data):
    X, y = data
    model = backend("predictor", name, random_state=0).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= {0, 1}


@pytest.mark.parametrize("name", PREDICTOR_NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises_data_error(name, bad, data):
    X, y = data
    X = X.copy()
    X[3, 1] = bad
    model = backend("predictor", name)
    with pytest.raises(DataError, match=r"Input X contains (NaN|infinity)"):
        model.fit(X, y)


@pytest.mark.parametrize("name", PREDICTOR_NAMES)
def test_one_class_raises_data_error(name, data):
    X, _ = data
    with pytest.raises(DataError, match=r"needs both classes.*got only class 0"):
        backend("predictor", name).fit(X, np.zeros(len(X), dtype=int))


def test_bad_hyper_parameter_is_named(data):
    X, y = data
    with pytest.raises(ConfigError, match=r"`C` of `LogisticPredictor`.*got -1"):
        LogisticPredictor(C=-1).fit(X, y)


def test_balanced_by_default():
    for cls in (LogisticPredictor, GradientBoostingPredictor, RBFSVCPredictor):
        assert cls().class_weight == "balanced"


# ---------------------------------------------------------------- features


def test_failure_features_shape_and_values():
    metrics = np.arange(12, dtype=float).reshape(6, 2)
    scores = np.array([0.1, 0.9, 0.2, 0.3, 0.0, 0.0])
    features = make_failure_features(metrics, scores, window=3)
    assert features.shape == (6, 9)
    np.testing.assert_array_equal(features[:, :2], metrics)  # last value
    np.testing.assert_allclose(features[0, 2:4], metrics[0])  # mean of one row
    np.testing.assert_allclose(features[4, 2:4], metrics[2:5].mean(axis=0))
    np.testing.assert_allclose(features[4, 4:6], metrics[2:5].std(axis=0))
    np.testing.assert_allclose(features[4, 6:8], [2.0, 2.0])  # slope per step
    np.testing.assert_allclose(features[0, 6:8], [0.0, 0.0])
    np.testing.assert_allclose(features[:, 8], [0.1, 0.9, 0.9, 0.9, 0.3, 0.3])


def test_failure_features_without_scores_and_1d():
    features = make_failure_features(np.linspace(0, 1, 10), None, window=4)
    assert features.shape == (10, 4)


def test_failure_features_are_causal():
    rng = np.random.default_rng(1)
    metrics = rng.normal(size=(50, 3))
    scores = rng.uniform(size=50)
    full = make_failure_features(metrics, scores, window=7)
    for t in (1, 5, 7, 23, 50):
        prefix = make_failure_features(metrics[:t], scores[:t], window=7)
        np.testing.assert_array_equal(prefix, full[:t])


def test_failure_features_errors():
    with pytest.raises(ConfigError, match=r"`window`.*got 0"):
        make_failure_features(np.zeros((3, 2)), None, window=0)
    with pytest.raises(DataError, match=r"`metrics`.*finite"):
        make_failure_features(np.array([[1.0], [np.nan]]), None, window=2)
    with pytest.raises(DataError, match=r"`scores`.*shape"):
        make_failure_features(np.zeros((3, 2)), np.zeros(2), window=2)
