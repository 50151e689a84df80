"""Classical anomaly detectors for metric streams.

Score convention, stated once for every detector here: scores lie in [0, 1]
and **higher means more anomalous**; a typical row of normal data scores near 0.

Every detector follows one contract:

* ``fit(X)`` learns from normal data, a 2-D array ``(T, D)`` or a 1-D series.
* ``score(X)`` scores a batch **starting from the fitted state** every call, so
  it is a pure function of the fitted model and ``X``; scores are causal (the
  scores of a prefix are the prefix of the scores).
* ``update(x)`` scores one row and **continues from the last streaming state**
  (the fitted state after ``fit`` or ``reset()``); feeding the rows of ``X`` one
  by one after ``fit`` reproduces ``score(X)`` exactly.
* ``reset()`` returns the streaming state to the fitted state.

After ``fit`` every detector exposes the same fitted surface, filled by one
helper: ``decision_scores_`` (scores of the training rows), ``threshold_`` (the
``1 - contamination`` quantile of those scores) and ``labels_`` (1 where a
training score exceeds ``threshold_``). ``predict(X)`` applies ``threshold_``.

Input with NaN or infinity and empty input raise
:class:`~qnrecovery.exceptions.DataError`; nothing is imputed.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.classical.detectors import RollingZScoreDetector
>>> rng = np.random.default_rng(0)
>>> detector = RollingZScoreDetector(window=20).fit(rng.normal(size=(200, 2)))
>>> scores = detector.score(np.array([[0.0, 0.0], [9.0, 0.0]]))
>>> bool(scores[1] > scores[0])
True
"""

from __future__ import annotations

import logging
import numbers
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from qnrecovery.exceptions import ConfigError, DataError, NotFittedError

__all__ = ["IsolationForestDetector", "RollingZScoreDetector"]

logger = logging.getLogger(__name__)


class _BaseDetector(BaseEstimator):
    """Validation, the shared fitted surface and the streaming bookkeeping.

    Subclasses implement ``_check_params``, ``_fit`` (returns the training
    scores and sets the fitted state), ``_initial_state``, and ``_score_from``
    (scores a batch from a state, returning the scores and the final state).
    """

    contamination: float
    state_: Any

    # -- the contract ----------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn normal behaviour from ``X``.

        Parameters
        ----------
        X : array-like of shape (T, D) or (T,)
            Normal rows in time order; finite, at least one row.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self

        Raises
        ------
        DataError
            If ``X`` is empty, not 1-D or 2-D, or holds NaN or infinity.
        ConfigError
            If a hyper-parameter is out of range.
        """
        self._check_params()
        self._check_contamination()
        rows = self._validate(X, reset=True)
        train_scores = self._fit(rows)
        self._set_fitted_surface(train_scores)
        self.reset()
        logger.debug(
            "%s fitted on %d rows of %d metrics; threshold %.4g.",
            type(self).__name__,
            rows.shape[0],
            rows.shape[1],
            self.threshold_,
        )
        return self

    def score(self, X: Any) -> np.ndarray:
        """Anomaly scores of ``X``, starting from the fitted state.

        Parameters
        ----------
        X : array-like of shape (T, D) or (T,)
            Rows in time order; a 1-D array is a single metric (D must be 1).

        Returns
        -------
        ndarray of shape (T,)
            Scores in [0, 1], higher is more anomalous.
        """
        self._check_fitted()
        rows = self._validate(X, reset=False)
        scores, _ = self._score_from(self._initial_state(), rows)
        return scores

    def update(self, x: Any) -> float:
        """Score one row and advance the streaming state.

        Parameters
        ----------
        x : array-like of shape (D,), or a number when D is 1

        Returns
        -------
        float
            The row's score in [0, 1].
        """
        self._check_fitted()
        row = np.asarray(x, dtype=float).reshape(1, -1)
        rows = self._validate(row, reset=False)
        scores, self.state_ = self._score_from(self.state_, rows)
        return float(scores[0])

    def reset(self) -> Self:
        """Return the streaming state of :meth:`update` to the fitted state."""
        self._check_fitted()
        self.state_ = self._initial_state()
        return self

    def predict(self, X: Any) -> np.ndarray:
        """1 where the score of a row exceeds ``threshold_``, else 0."""
        return (self.score(X) > self.threshold_).astype(int)

    # -- helpers -----------------------------------------------------------

    def _check_params(self) -> None:
        """Raise :class:`ConfigError` for an invalid hyper-parameter."""

    def _fit(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _initial_state(self) -> Any:
        raise NotImplementedError

    def _score_from(self, state: Any, rows: np.ndarray) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def _check_contamination(self) -> None:
        value = self.contamination
        if (
            not isinstance(value, numbers.Real)
            or isinstance(value, bool)
            or not 0 < value <= 0.5
        ):
            raise ConfigError(
                f"`contamination` of `{type(self).__name__}` must be a number in "
                f"(0, 0.5]; got {value!r}."
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call `fit` first."
            )

    def _validate(self, X: Any, *, reset: bool) -> np.ndarray:
        """Return ``X`` as a finite float array of shape (T, D)."""
        owner = type(self).__name__
        try:
            rows = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as err:
            raise DataError(f"`X` of `{owner}` must be numeric; {err}") from err
        if rows.ndim == 1:
            rows = rows[:, None]
        if rows.ndim != 2:
            raise DataError(
                f"`X` of `{owner}` must be 1-D or 2-D; got shape {rows.shape}."
            )
        if rows.shape[0] == 0:
            raise DataError(f"`X` of `{owner}` must hold at least one row; got 0.")
        if not np.all(np.isfinite(rows)):
            kind = "NaN" if np.isnan(rows).any() else "infinity"
            raise DataError(
                f"`X` of `{owner}` must be finite; Input contains {kind}. "
                "Impute or drop those rows first."
            )
        if reset:
            self.n_features_in_ = rows.shape[1]
        elif rows.shape[1] != self.n_features_in_:
            raise DataError(
                f"`X` of `{owner}` must have {self.n_features_in_} metrics, as in "
                f"`fit`; got {rows.shape[1]}."
            )
        return rows

    def _set_fitted_surface(self, train_scores: np.ndarray) -> None:
        """Fill ``decision_scores_``, ``threshold_`` and ``labels_``."""
        self.decision_scores_ = np.asarray(train_scores, dtype=float)
        self.threshold_ = float(
            np.quantile(self.decision_scores_, 1.0 - self.contamination)
        )
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)


class RollingZScoreDetector(_BaseDetector):
    """Largest per-metric rolling z-score, squashed into [0, 1].

    Each row is compared with the ``window`` rows before it (not itself): per
    metric, ``z = (x - mean) / max(std, floor)``; the row's score is
    ``1 - exp(-max_d |z_d| / threshold)``, so ``|z| = threshold`` scores about
    0.63. After ``fit`` the window holds the last ``window`` training rows.
    Fewer than two rows of history score 0.

    Parameters
    ----------
    window : int, default=60
        Rows of history each row is compared with.
    threshold : float, default=3.0
        The ``|z|`` that maps to a score of ``1 - 1/e``.
    min_std : float, default=0.05
        Floor of the rolling standard deviation, as a share of each metric's
        standard deviation over the training data; constant metrics use an
        absolute floor of ``1e-9`` instead, so no score is inf or NaN.
    contamination : float, default=0.01
        Share of training rows expected to be anomalous; sets ``threshold_``.

    Attributes
    ----------
    n_features_in_ : int
        Number of metrics.
    std_floor_ : ndarray of shape (n_features_in_,)
        Floor of the rolling standard deviation per metric.
    history_ : ndarray of shape (window, n_features_in_)
        The last training rows (NaN-padded at the front if fewer).
    decision_scores_ : ndarray of shape (n_train,)
        Scores of the training rows, streamed from an empty history.
    threshold_ : float
        The ``1 - contamination`` quantile of ``decision_scores_``.
    labels_ : ndarray of shape (n_train,)
        1 where a training score exceeds ``threshold_``.
    state_ : ndarray
        Streaming history used by :meth:`update`.
    """

    def __init__(
        self,
        *,
        window: int = 60,
        threshold: float = 3.0,
        min_std: float = 0.05,
        contamination: float = 0.01,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.min_std = min_std
        self.contamination = contamination

    def _check_params(self) -> None:
        owner = type(self).__name__
        if (
            not isinstance(self.window, numbers.Integral)
            or isinstance(self.window, bool)
            or self.window < 2
        ):
            raise ConfigError(
                f"`window` of `{owner}` must be an integer >= 2; got {self.window!r}."
            )
        for name in ("threshold", "min_std"):
            value = getattr(self, name)
            if (
                not isinstance(value, numbers.Real)
                or isinstance(value, bool)
                or not (np.isfinite(value) and value > 0)
            ):
                raise ConfigError(
                    f"`{name}` of `{owner}` must be a positive number; got {value!r}."
                )

    def _fit(self, rows: np.ndarray) -> np.ndarray:
        self.std_floor_ = np.maximum(self.min_std * rows.std(axis=0), 1e-9)
        empty = np.full((self.window, rows.shape[1]), np.nan)
        train_scores, history = self._score_from(empty, rows)
        self.history_ = history
        return train_scores

    def _initial_state(self) -> np.ndarray:
        return self.history_.copy()

    def _score_from(
        self, state: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # Window t holds the `window` rows before row t; rows are scored in
        # chunks so memory stays bounded for long series.
        joined = np.vstack([state, rows])
        scores = np.empty(rows.shape[0])
        chunk = max(1, 2**20 // (self.window * rows.shape[1]))
        for start in range(0, rows.shape[0], chunk):
            stop = min(start + chunk, rows.shape[0])
            windows = np.lib.stride_tricks.sliding_window_view(
                joined[start : stop + self.window - 1], self.window, axis=0
            )
            scores[start:stop] = self._window_scores(windows, rows[start:stop])
        return scores, joined[-self.window :].copy()

    def _window_scores(self, windows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scores of ``rows`` (n, D) against ``windows`` (n, D, window)."""
        # Sums run over the window in a fixed order, element by element, so a
        # row's score is bit-identical whether it is scored alone or in a batch.
        valid = ~np.isnan(windows)
        count = valid.sum(axis=-1)
        safe = np.maximum(count, 1)
        mean = _ordered_sum(np.where(valid, windows, 0.0)) / safe
        centred = np.where(valid, windows - mean[..., None], 0.0)
        std = np.sqrt(_ordered_sum(centred * centred) / safe)
        z = np.abs(rows - mean) / np.maximum(std, self.std_floor_)
        z = np.where(count >= 2, z, 0.0)
        return np.asarray(1.0 - np.exp(-z.max(axis=1) / self.threshold))


def _ordered_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis, strictly left to right."""
    total = np.zeros(values.shape[:-1])
    for k in range(values.shape[-1]):
        total += values[..., k]
    return total


class IsolationForestDetector(_BaseDetector):
    """scikit-learn's IsolationForest, its score mapped into [0, 1].

    The forest's anomaly score ``s = -score_samples(x)`` lies in (0, 1]; it is
    mapped by ``clip((s - s_min) / (1 - s_min), 0, 1)`` with ``s_min`` the
    lowest training score, which keeps the order of rows and gives 0 to every
    row at least as normal as the most normal training row. Each row is scored
    on its own, so scores are causal and :meth:`update` keeps no history.

    Parameters
    ----------
    n_estimators : int, default=100
        Trees in the forest.
    max_samples : int, float or "auto", default="auto"
        Rows drawn to build each tree (as in IsolationForest).
    max_features : int or float, default=1.0
        Metrics drawn to build each tree (as in IsolationForest).
    contamination : float, default=0.01
        Share of training rows expected to be anomalous; sets ``threshold_``.
    random_state : int, RandomState or None, default=None
        Seed of the forest.

    Attributes
    ----------
    n_features_in_ : int
    forest_ : sklearn.ensemble.IsolationForest
        The fitted forest.
    offset_ : float
        ``s_min``, the lowest training anomaly score.
    decision_scores_ : ndarray of shape (n_train,)
    threshold_ : float
    labels_ : ndarray of shape (n_train,)
    """

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: int | float = 1.0,
        contamination: float = 0.01,
        random_state: Any = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.random_state = random_state

    def _check_params(self) -> None:
        value = self.n_estimators
        if (
            not isinstance(value, numbers.Integral)
            or isinstance(value, bool)
            or value < 1
        ):
            raise ConfigError(
                f"`n_estimators` of `{type(self).__name__}` must be a positive "
                f"integer; got {value!r}."
            )

    def _fit(self, rows: np.ndarray) -> np.ndarray:
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            random_state=self.random_state,
        ).fit(rows)
        raw = -self.forest_.score_samples(rows)
        self.offset_ = float(raw.min())
        scores, _ = self._score_from(None, rows)
        return scores

    def _initial_state(self) -> None:
        return None

    def _score_from(self, state: None, rows: np.ndarray) -> tuple[np.ndarray, None]:
        raw = -self.forest_.score_samples(rows)
        span = max(1.0 - self.offset_, 1e-12)
        return np.clip((raw - self.offset_) / span, 0.0, 1.0), None
