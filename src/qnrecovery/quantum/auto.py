"""Choose a failure predictor by cross-validated PR-AUC, within a time budget.

:class:`AutoPredictor` scores registered predictors (quantum and classical)
on the training data only, with stratified k-fold cross-validation and the
average precision (PR-AUC) of the out-of-fold probabilities, keeps the best
and refits it on all the training rows. It says what it chose and why in
``report_``; a candidate that would not finish within the time budget is
stopped or skipped, and the report says so.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.quantum.auto import AutoPredictor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(150, 4))
>>> y = (X[:, 0] > 0.8).astype(int)
>>> auto = AutoPredictor(candidates=("logistic", "rbf-svc"), random_state=0)
>>> auto = auto.fit(X, y)
>>> auto.chosen_ in ("logistic", "rbf-svc")
True
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from qnrecovery.classical.predictors import ProbabilityClassifierMixin
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.quantum._pipeline import stratified_subsample

__all__ = ["AutoPredictor", "CandidateResult"]

logger = logging.getLogger(__name__)

#: Registered predictors the auto predictor never considers.
_EXCLUDED = ("auto",)


@dataclass(frozen=True)
class CandidateResult:
    """How one candidate did in the selection.

    Attributes
    ----------
    name : str
        Registered predictor name.
    pr_auc : float or None
        Mean out-of-fold PR-AUC; ``None`` when not scored.
    pr_auc_std : float or None
        Standard deviation over the folds.
    folds : int
        Folds scored.
    seconds : float
        Wall time spent on it.
    status : str
        ``"scored"``, ``"skipped"`` (budget spent before it started),
        ``"stopped"`` (its first fold showed it would overrun) or ``"failed"``.
    reason : str
        Why it was not scored, or an empty string.
    """

    name: str
    pr_auc: float | None
    pr_auc_std: float | None
    folds: int
    seconds: float
    status: str
    reason: str = ""


class AutoPredictor(ProbabilityClassifierMixin, ClassifierMixin, BaseEstimator):
    """Pick the predictor with the best cross-validated PR-AUC, then refit it.

    Parameters
    ----------
    candidates : tuple of str or None, default=None
        Registered predictor names to consider; ``None`` takes every
        registered predictor but this one, in registry order.
    candidate_options : dict or None, default=None
        ``{name: {option: value}}`` passed to each candidate's constructor.
    cv : int, default=3
        Stratified folds (fewer when the rare class has fewer rows).
    time_budget_s : float, default=60.0
        Wall-time budget of the selection (not of the final refit). A
        candidate whose first fold shows it would end past the budget is
        stopped; once the budget is spent the rest are skipped.
    max_selection_samples : int or None, default=3000
        Rows the selection cross-validates on (stratified, seeded subsample);
        the final refit uses every row.
    random_state : int, RandomState or None, default=None
        Seeds the folds, the subsample and every candidate.

    Attributes
    ----------
    chosen_ : str
        Name of the chosen predictor.
    best_estimator_ : estimator
        The chosen predictor, refitted on all the training rows.
    scores_ : dict of str to float or None
        Mean out-of-fold PR-AUC of every candidate (``None`` if not scored).
    results_ : list of CandidateResult
    report_ : str
        What was chosen and why, one line per candidate.
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        candidates: tuple[str, ...] | None = None,
        candidate_options: dict[str, dict[str, Any]] | None = None,
        cv: int = 3,
        time_budget_s: float = 60.0,
        max_selection_samples: int | None = 3000,
        random_state: Any = None,
    ) -> None:
        self.candidates = candidates
        self.candidate_options = candidate_options
        self.cv = cv
        self.time_budget_s = time_budget_s
        self.max_selection_samples = max_selection_samples
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _names(self) -> list[str]:
        from qnrecovery.registry import available

        registered = available("predictor")["predictor"]
        if self.candidates is None:
            return [n for n in registered if n not in _EXCLUDED]
        names = [str(n).lower() for n in self.candidates]
        unknown = [n for n in names if n not in registered or n in _EXCLUDED]
        if unknown or not names:
            allowed = [n for n in registered if n not in _EXCLUDED]
            raise ConfigError(
                f"`candidates` of `AutoPredictor` must name registered predictors "
                f"({', '.join(allowed)}); got {self.candidates!r}."
            )
        return names

    def _check_params(self) -> None:
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise ConfigError(
                f"`cv` of `AutoPredictor` must be an integer >= 2; got {self.cv!r}."
            )
        budget = self.time_budget_s
        if isinstance(budget, bool) or not isinstance(budget, int | float):
            budget = -1.0
        if not math.isfinite(budget) or budget <= 0:
            raise ConfigError(
                "`time_budget_s` of `AutoPredictor` must be a positive number; "
                f"got {self.time_budget_s!r}."
            )

    def _make(self, name: str, seed: int) -> Any:
        from qnrecovery.registry import backend

        options = dict((self.candidate_options or {}).get(name, {}))
        options.setdefault("random_state", seed)
        return backend("predictor", name, **options)

    def fit(self, X: Any, y: Any) -> Self:
        """Score every candidate by cross-validation, then refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Binary labels, both classes present.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Non-finite features, fewer than two or more than two classes.
        ConfigError
            Unknown candidates or bad options.
        """
        self._check_params()
        names = self._names()
        X, y = self._validate(X, y, reset=True)
        codes = self._labels(y)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        rng = np.random.default_rng(seed)

        rows = np.arange(len(codes))
        if self.max_selection_samples is not None:
            rows = stratified_subsample(codes, self.max_selection_samples, rng)
        folds = max(2, min(self.cv, int(np.bincount(codes[rows]).min())))
        splits = list(
            StratifiedKFold(folds, shuffle=True, random_state=seed).split(
                X[rows], codes[rows]
            )
        )

        started = time.perf_counter()
        self.results_ = [
            self._score(name, X[rows], codes[rows], splits, seed, started)
            for name in names
        ]
        scored = [r for r in self.results_ if r.pr_auc is not None]
        if not scored:
            raise DataError(
                "AutoPredictor could not score any candidate within the time "
                f"budget of {self.time_budget_s} s: "
                + "; ".join(f"{r.name}: {r.reason}" for r in self.results_)
                + ". Raise time_budget_s or list cheaper candidates."
            )
        best = max(scored, key=lambda r: (r.pr_auc, -r.seconds))
        self.chosen_ = best.name
        self.scores_ = {r.name: r.pr_auc for r in self.results_}
        self.report_ = self._report(best, folds, len(rows), len(codes))
        logger.info("%s", self.report_)

        self.best_estimator_ = self._make(best.name, seed).fit(X, y)
        return self

    def _score(
        self,
        name: str,
        X: np.ndarray,
        y: np.ndarray,
        splits: list[tuple[np.ndarray, np.ndarray]],
        seed: int,
        started: float,
    ) -> CandidateResult:
        """Cross-validate one candidate, stopping if it would overrun."""
        begun = time.perf_counter()
        if begun - started >= self.time_budget_s:
            return CandidateResult(
                name, None, None, 0, 0.0, "skipped", "time budget spent"
            )
        scores: list[float] = []
        for train, test in splits:
            try:
                model = self._make(name, seed).fit(X[train], y[train])
                proba = np.asarray(model.predict_proba(X[test]))[:, 1]
            except (ValueError, MemoryError) as err:
                spent = time.perf_counter() - begun
                return CandidateResult(name, None, None, 0, spent, "failed", str(err))
            scores.append(float(average_precision_score(y[test], proba)))

            now = time.perf_counter()
            projected = now + (now - begun) / len(scores) * (len(splits) - len(scores))
            if len(scores) < len(splits) and projected - started > self.time_budget_s:
                return CandidateResult(
                    name,
                    None,
                    None,
                    len(scores),
                    now - begun,
                    "stopped",
                    f"projected to end {projected - started:.1f} s into a "
                    f"{self.time_budget_s} s budget",
                )
        spent = time.perf_counter() - begun
        return CandidateResult(
            name,
            float(np.mean(scores)),
            float(np.std(scores)),
            len(scores),
            spent,
            "scored",
        )

    def _report(self, best: CandidateResult, folds: int, rows: int, total: int) -> str:
        lines = [
            f"chose {best.name}: mean PR-AUC {best.pr_auc:.3f} over {folds} "
            f"stratified folds of {rows} of {total} training rows (highest of the "
            "candidates scored)."
        ]
        for r in sorted(self.results_, key=lambda r: -(r.pr_auc or -1.0)):
            if r.pr_auc is not None:
                lines.append(
                    f"  {r.name}: PR-AUC {r.pr_auc:.3f} +/- {r.pr_auc_std:.3f} "
                    f"({r.seconds:.2f} s)"
                )
            else:
                lines.append(f"  {r.name}: {r.status} ({r.reason})")
        return "\n".join(lines)

    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        try:
            return validate_data(self, X, y, reset=reset)
        except DataError:
            raise
        except ValueError as err:
            raise DataError(str(err)) from err

    def _labels(self, y: np.ndarray) -> np.ndarray:
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise DataError(
                "Only binary classification is supported. The type of the target "
                f"is {kind}."
            )
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            only = self.classes_[0]
            only = only.item() if isinstance(only, np.generic) else only
            raise DataError(
                "AutoPredictor needs both classes in the training data (it cannot "
                f"learn from one class); got only class {only!r}."
            )
        return np.asarray(codes, dtype=int)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the chosen predictor; column 1 is ``classes_[1]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return np.asarray(self.best_estimator_.predict_proba(X))
