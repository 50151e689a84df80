"""The auto predictor: selection by cross-validated PR-AUC within a budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from qnrecovery import registry
from qnrecovery.classical.predictors import LogisticPredictor
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.quantum.auto import AutoPredictor


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(240, 5))
    # A ring: no linear model can separate it, a kernel model can.
    radius = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2)
    y = (radius > 1.6).astype(int)
    return X, y


def test_chooses_the_best_scored_candidate_and_reports_why(data):
    X, y = data
    auto = AutoPredictor(
        candidates=("logistic", "quantum-kernel", "rbf-svc"),
        candidate_options={"quantum-kernel": {"n_qubits": 4}},
        random_state=0,
    ).fit(X, y)
    scored = {k: v for k, v in auto.scores_.items() if v is not None}
    assert set(scored) == {"logistic", "quantum-kernel", "rbf-svc"}
    assert auto.chosen_ == max(scored, key=scored.__getitem__)
    assert auto.chosen_ != "logistic"  # the ring defeats a linear model
    assert auto.report_.startswith(f"chose {auto.chosen_}: mean PR-AUC")
    assert "logistic: PR-AUC" in auto.report_
    proba = auto.predict_proba(X)
    np.testing.assert_allclose(proba, auto.best_estimator_.predict_proba(X))
    assert set(auto.predict(X)) <= {0, 1}


def test_default_candidates_are_every_registered_predictor_but_itself():
    from qnrecovery.registry import available

    names = AutoPredictor()._names()
    assert "auto" not in names
    assert set(names) == set(available("predictor")["predictor"]) - {"auto"}


def test_spent_budget_skips_the_rest(data):
    X, y = data
    auto = AutoPredictor(
        candidates=("logistic", "rbf-svc"), time_budget_s=1e-9, random_state=0
    )
    with pytest.raises(
        DataError, match=r"could not score any candidate.*time budget spent"
    ):
        auto.fit(X, y)


class _SleepyPredictor(LogisticPredictor):
    """A logistic model whose fit takes at least 1.5 s."""

    def fit(self, X, y):
        time.sleep(1.5)
        return super().fit(X, y)


def test_slow_candidate_is_stopped(data, monkeypatch):
    X, y = data
    monkeypatch.setitem(
        registry._runtime,
        ("predictor", "sleepy"),
        registry.BackendEntry("predictor", "sleepy", _SleepyPredictor, "runtime"),
    )
    # Three folds of the sleepy model cannot finish in 2 s; its first fold
    # shows it, and it is stopped. The logistic model, scored first, can.
    auto = AutoPredictor(
        candidates=("logistic", "sleepy"), time_budget_s=2.0, random_state=0
    ).fit(X, y)
    statuses = {r.name: r.status for r in auto.results_}
    assert statuses == {"logistic": "scored", "sleepy": "stopped"}
    assert auto.chosen_ == "logistic"
    assert "sleepy: stopped (projected to end" in auto.report_


def test_bad_options(data):
    X, y = data
    with pytest.raises(ConfigError, match=r"`candidates` .* registered predictors"):
        AutoPredictor(candidates=("quantum-magic",)).fit(X, y)
    with pytest.raises(ConfigError, match=r"`candidates`"):
        AutoPredictor(candidates=("auto",)).fit(X, y)
    with pytest.raises(ConfigError, match=r"`time_budget_s` .* got 0"):
        AutoPredictor(time_budget_s=0).fit(X, y)


def test_bad_input(data):
    X, y = data
    with pytest.raises(DataError, match="needs both classes"):
        AutoPredictor(candidates=("logistic",)).fit(X, np.zeros(len(X), dtype=int))
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(DataError, match="Input X contains NaN"):
        AutoPredictor(candidates=("logistic",)).fit(X, y)
