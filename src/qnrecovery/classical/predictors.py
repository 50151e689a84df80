"""Classical failure predictors: scikit-learn classifiers behind one small base.

Every predictor is a pipeline of :class:`~sklearn.preprocessing.StandardScaler`
and one model, with ``class_weight="balanced"`` by default because failures are
rare. Column 1 of ``predict_proba`` is the probability of the positive class
(for the usual 0/1 labels, the probability that the component fails within
the horizon).

Input that is not finite raises :class:`~qnrecovery.exceptions.DataError`
(a :class:`ValueError`) with scikit-learn's wording; training data with a
single class raises :class:`~qnrecovery.exceptions.DataError` too.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.classical.predictors import LogisticPredictor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> y = (X[:, 0] > 1.0).astype(int)
>>> model = LogisticPredictor(random_state=0).fit(X, y)
>>> model.predict_proba(X[:2]).shape
(2, 2)
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from qnrecovery.exceptions import ConfigError, DataError

__all__ = [
    "GradientBoostingPredictor",
    "LogisticPredictor",
    "ProbabilityClassifierMixin",
    "RBFSVCPredictor",
    "make_failure_features",
]

logger = logging.getLogger(__name__)


def _positive_number(owner: str, name: str, value: Any) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(float(value))
        or value <= 0
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be a positive number; got {value!r}."
        )


def _positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be an integer >= {minimum}; got {value!r}."
        )


class ProbabilityClassifierMixin:
    """``predict`` as the class of highest ``predict_proba``, for our predictors."""

    classes_: np.ndarray

    def predict_proba(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])


class _PipelinePredictor(ProbabilityClassifierMixin, ClassifierMixin, BaseEstimator):
    """Shared behaviour: validation, scaler + model pipeline, probabilities.

    Subclasses implement :meth:`_make_model` (and :meth:`_check_params`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler and model.
    n_iter_ : int or ndarray
        Iterations the model ran, for models with ``max_iter``.
    """

    def _make_model(self, y: np.ndarray) -> BaseEstimator:
        """Return the unfitted model; ``y`` are the validated labels."""
        raise NotImplementedError

    def _check_params(self) -> None:
        """Raise :class:`ConfigError` for an invalid hyper-parameter."""

    def _threads(self) -> contextlib.AbstractContextManager[Any]:
        """Context that bounds the model's native thread pools, if it should."""
        return contextlib.nullcontext()

    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        """Validate like scikit-learn, re-raising its ValueErrors as DataError."""
        try:
            return validate_data(self, X, y, reset=reset)
        except DataError:
            raise
        except ValueError as err:
            raise DataError(str(err)) from err

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the scaler and the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite feature rows.
        y : array-like of shape (n_samples,)
            Labels; at least two distinct classes.

        Returns
        -------
        self

        Raises
        ------
        DataError
            If ``X`` holds NaN or infinity, shapes disagree, or ``y`` has a
            single class.
        ConfigError
            If a hyper-parameter is out of range.
        """
        self._check_params()
        X, y = self._validate(X, y, reset=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            only = self.classes_[0]
            only = only.item() if isinstance(only, np.generic) else only
            raise DataError(
                f"{type(self).__name__} needs both classes in the training data "
                f"(it cannot learn from one class); got only class {only!r}."
            )
        self.pipeline_ = Pipeline(
            [("scale", StandardScaler()), ("model", self._make_model(y))]
        )
        with self._threads():
            self.pipeline_.fit(X, y)
        model = self.pipeline_[-1]
        if hasattr(model, "n_iter_"):
            self.n_iter_ = model.n_iter_
        logger.debug(
            "%s fitted on %d rows, %d features.",
            type(self).__name__,
            X.shape[0],
            X.shape[1],
        )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities; column ``i`` belongs to ``classes_[i]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with self._threads():
            proba: np.ndarray = self.pipeline_.predict_proba(X)
        return proba


class LogisticPredictor(_PipelinePredictor):
    """Logistic regression on standardised features.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength.
    class_weight : "balanced", dict or None, default="balanced"
        Class weights; balanced by default because failures are rare.
    max_iter : int, default=1000
        Iterations of the solver.
    random_state : int, RandomState or None, default=None
        Seed (used by the solver only when it shuffles).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    pipeline_ : sklearn.pipeline.Pipeline
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        class_weight: str | dict[Any, float] | None = "balanced",
        max_iter: int = 1000,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        _positive_number(type(self).__name__, "C", self.C)
        _positive_int(type(self).__name__, "max_iter", self.max_iter)

    def _make_model(self, y: np.ndarray) -> BaseEstimator:
        return LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )


class GradientBoostingPredictor(_PipelinePredictor):
    """Histogram gradient boosting on standardised features.

    Parameters
    ----------
    learning_rate : float, default=0.1
    max_iter : int, default=200
        Boosting iterations.
    max_leaf_nodes : int, default=31
    class_weight : "balanced", dict or None, default="balanced"
    n_threads : int or None, default=1
        OpenMP threads used to fit and predict; ``None`` uses every core. One
        by default: predictors run in worker pools, and OpenMP threads of
        several processes competing for the same cores slow down badly.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    pipeline_ : sklearn.pipeline.Pipeline
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.1,
        max_iter: int = 200,
        max_leaf_nodes: int = 31,
        class_weight: str | dict[Any, float] | None = "balanced",
        n_threads: int | None = 1,
        random_state: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        owner = type(self).__name__
        _positive_number(owner, "learning_rate", self.learning_rate)
        _positive_int(owner, "max_iter", self.max_iter)
        _positive_int(owner, "max_leaf_nodes", self.max_leaf_nodes, minimum=2)
        if self.n_threads is not None:
            _positive_int(owner, "n_threads", self.n_threads)

    def _threads(self) -> contextlib.AbstractContextManager[Any]:
        if self.n_threads is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=self.n_threads, user_api="openmp")

    def _make_model(self, y: np.ndarray) -> BaseEstimator:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            class_weight=self.class_weight,
            early_stopping=False,
            random_state=self.random_state,
        )


class RBFSVCPredictor(_PipelinePredictor):
    """Support-vector classifier with an RBF kernel, calibrated by Platt scaling.

    The classical twin of a quantum-kernel SVC: the same SVC, with a Gaussian
    kernel instead of a fidelity kernel. Probabilities come from
    :class:`~sklearn.calibration.CalibratedClassifierCV` (sigmoid, ``cv``
    stratified folds), so each class needs at least ``cv`` training rows;
    with fewer, the folds shrink to the smallest class size (minimum 2).

    The calibration is fitted without class weights, so the probabilities
    follow the observed failure rate: ``predict`` (the most probable class)
    flags fewer rare failures than the balanced SVC's own decision would.
    Choose a threshold on ``predict_proba`` (as the planner does) instead.

    Parameters
    ----------
    C : float, default=1.0
    gamma : "scale", "auto" or float, default="scale"
        RBF kernel width.
    class_weight : "balanced", dict or None, default="balanced"
    cv : int, default=3
        Folds used for calibration.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    pipeline_ : sklearn.pipeline.Pipeline
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        gamma: str | float = "scale",
        class_weight: str | dict[Any, float] | None = "balanced",
        cv: int = 3,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.cv = cv
        self.random_state = random_state

    def _check_params(self) -> None:
        owner = type(self).__name__
        _positive_number(owner, "C", self.C)
        _positive_int(owner, "cv", self.cv, minimum=2)
        if not (self.gamma in ("scale", "auto") or isinstance(self.gamma, float)):
            _positive_number(owner, "gamma", self.gamma)

    def _make_model(self, y: np.ndarray) -> BaseEstimator:
        svc = SVC(
            kernel="rbf",
            C=self.C,
            gamma=self.gamma,
            class_weight=self.class_weight,
            random_state=self.random_state,
        )
        _, counts = np.unique(y, return_counts=True)
        folds = max(2, min(self.cv, int(counts.min())))
        return CalibratedClassifierCV(svc, method="sigmoid", cv=folds)


# --------------------------------------------------------------------- features


def make_failure_features(
    metrics: np.ndarray, scores: np.ndarray | None, window: int
) -> np.ndarray:
    """Causal per-row features from trailing windows of metrics and scores.

    Row ``t`` of the result uses rows ``max(0, t - window + 1) .. t`` only, so
    the features of a prefix are the prefix of the features. Early rows use
    the shorter window available.

    Parameters
    ----------
    metrics : ndarray of shape (T, D) or (T,)
        Finite metric rows in time order.
    scores : ndarray of shape (T,) or None
        Anomaly scores of the same rows; ``None`` leaves out their column.
    window : int
        Length of the trailing window, at least 1.

    Returns
    -------
    ndarray of shape (T, 4 * D + 1) or (T, 4 * D)
        Per metric: last value, window mean, window standard deviation and
        least-squares slope per row (blocks in that order, D columns each);
        then the maximum anomaly score over the window when ``scores`` is given.

    Raises
    ------
    ConfigError
        If ``window`` is not a positive integer.
    DataError
        If inputs are not finite or their lengths disagree.
    """
    _positive_int("make_failure_features", "window", window)
    values = np.asarray(metrics, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise DataError(
            "`metrics` of `make_failure_features` must be 1-D or 2-D; "
            f"got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise DataError(
            "`metrics` of `make_failure_features` must be finite; got NaN or infinity."
        )
    windows = _trailing_windows(values, window)  # (T, D, w), NaN-padded
    valid = ~np.isnan(windows)
    count = valid.sum(axis=-1)
    filled = np.where(valid, windows, 0.0)
    mean = filled.sum(axis=-1) / count
    centred = np.where(valid, windows - mean[..., None], 0.0)
    std = np.sqrt((centred**2).sum(axis=-1) / count)

    # Slope of a least-squares line through the window's valid points.
    steps = np.broadcast_to(np.arange(window, dtype=float), windows.shape)
    step_mean = np.where(valid, steps, 0.0).sum(axis=-1) / count
    step_dev = np.where(valid, steps - step_mean[..., None], 0.0)
    denom = (step_dev**2).sum(axis=-1)
    slope = np.divide(
        (step_dev * centred).sum(axis=-1),
        denom,
        out=np.zeros_like(denom),
        where=denom > 0,
    )
    blocks = [values, mean, std, slope]

    if scores is not None:
        score_values = np.asarray(scores, dtype=float)
        if score_values.shape != (values.shape[0],):
            raise DataError(
                "`scores` of `make_failure_features` must have shape "
                f"({values.shape[0]},); got {score_values.shape}."
            )
        if not np.all(np.isfinite(score_values)):
            raise DataError(
                "`scores` of `make_failure_features` must be finite; "
                "got NaN or infinity."
            )
        score_windows = _trailing_windows(score_values[:, None], window)[:, 0, :]
        blocks.append(np.nanmax(score_windows, axis=-1)[:, None])
    return np.hstack(blocks)


def _trailing_windows(values: np.ndarray, window: int) -> np.ndarray:
    """Windows ending at each row, shape (T, D, window), NaN before row 0."""
    pad = np.full((window - 1, values.shape[1]), np.nan)
    padded = np.vstack([pad, values])
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)
