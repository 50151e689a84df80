"""The classical work around a quantum classifier: features in, probabilities out.

* :class:`AngleEncoder` standardises the features, reduces them to the qubit
  count (PCA, or the columns most correlated with the label) and scales each
  into the feature map's angle range ``[0, bandwidth * pi]``.
* :func:`stratified_subsample` bounds the training rows a quantum model sees,
  keeping every row of the rare class while it fits in half the budget.
* :class:`PriorShift` undoes the change of class balance a subsample makes,
  so calibrated probabilities follow the full training data's failure rate.
* :func:`fit_platt` fits Platt's sigmoid to decision values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from qnrecovery.exceptions import ConfigError

__all__ = [
    "REDUCTIONS",
    "AngleEncoder",
    "Platt",
    "PriorShift",
    "fit_platt",
    "stratified_subsample",
]

logger = logging.getLogger(__name__)

#: Ways to bring the features down to the qubit count.
REDUCTIONS = ("pca", "select", "none")


class AngleEncoder:
    """Standardise, reduce to at most `n_qubits` columns, scale into angles.

    Parameters
    ----------
    n_qubits : int
        Largest number of columns (qubits) kept.
    reduction : {"pca", "select", "none"}
        ``pca``: the leading principal components; ``select``: the columns
        with the largest absolute correlation with the label; ``none``: keep
        every column (more columns than qubits is an error).
    bandwidth : float
        The angle range is ``[0, bandwidth * pi]``. Smaller values make the
        fidelity kernel smoother (values nearer 1).
    owner : str
        Name of the estimator, for error messages.

    Attributes
    ----------
    n_components_ : int
        Columns after reduction, the number of qubits used.
    """

    def __init__(
        self, n_qubits: int, reduction: str, bandwidth: float, owner: str
    ) -> None:
        self.n_qubits = n_qubits
        self.reduction = reduction
        self.bandwidth = bandwidth
        self.owner = owner

    def fit(self, X: np.ndarray, y: np.ndarray) -> AngleEncoder:
        """Learn the scaling, the reduction and the angle range from `X`."""
        n_features = X.shape[1]
        if self.reduction == "none" and n_features > self.n_qubits:
            raise ConfigError(
                f"`{self.owner}` got {n_features} features but `n_qubits` is "
                f"{self.n_qubits} and `reduction` is 'none'. Set reduction='pca' "
                f"or 'select', or n_qubits >= {n_features}."
            )
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        Z = (X - self.mean_) / self.scale_

        keep = min(self.n_qubits, n_features)
        if self.reduction == "pca":
            keep = max(1, min(keep, X.shape[0]))
            _, _, vt = np.linalg.svd(Z, full_matrices=False)
            # Fix each component's sign, so refits give the same angles.
            signs = np.sign(vt[:keep, np.argmax(np.abs(vt[:keep]), axis=1)].diagonal())
            self.projection_ = (vt[:keep] * np.where(signs == 0, 1, signs)[:, None]).T
        elif self.reduction == "select":
            chosen = np.sort(
                np.argsort(-_label_correlation(Z, y), kind="stable")[:keep]
            )
            self.projection_ = np.eye(n_features)[:, chosen]
        else:
            self.projection_ = np.eye(n_features)
        R = Z @ self.projection_

        self.low_ = R.min(axis=0)
        span = R.max(axis=0) - self.low_
        self.span_ = np.where(span > 0, span, 1.0)
        self.n_components_ = int(R.shape[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Angles in ``[0, bandwidth * pi]``, one column per qubit."""
        R = ((X - self.mean_) / self.scale_) @ self.projection_
        unit = np.clip((R - self.low_) / self.span_, 0.0, 1.0)
        return np.asarray(unit * (self.bandwidth * np.pi))


def _label_correlation(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Absolute correlation of each standardised column with the 0/1 label."""
    centred = y - y.mean()
    norm = np.sqrt((centred**2).sum() * (Z**2).sum(axis=0))
    covariance = np.abs(Z.T @ centred)
    return np.divide(covariance, norm, out=np.zeros_like(covariance), where=norm > 0)


def stratified_subsample(
    y: np.ndarray, max_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices of a class-stratified subsample of at most `max_samples` rows.

    Every row of the rarer class is kept while they fit in half the budget
    (otherwise half the budget is drawn from them); the other rows are drawn
    at random to fill the rest. The indices are sorted.
    """
    if len(y) <= max_samples:
        return np.arange(len(y))
    labels, counts = np.unique(y, return_counts=True)
    rare = labels[np.argmin(counts)]
    rare_rows = np.flatnonzero(y == rare)
    common_rows = np.flatnonzero(y != rare)

    n_rare = min(len(rare_rows), max_samples // 2)
    picked_rare = rng.choice(rare_rows, size=n_rare, replace=False)
    n_common = min(len(common_rows), max_samples - n_rare)
    picked_common = rng.choice(common_rows, size=n_common, replace=False)
    return np.sort(np.concatenate([picked_rare, picked_common]))


@dataclass(frozen=True)
class PriorShift:
    """Maps probabilities fitted on a subsample back to the full class balance.

    Attributes
    ----------
    odds_factor : float
        Multiplies the odds of class 1: the share of class-0 rows kept over the
        share of class-1 rows kept (1 when the subsample is the full data).
    """

    odds_factor: float = 1.0

    @classmethod
    def between(cls, y_full: np.ndarray, y_kept: np.ndarray) -> PriorShift:
        """The shift from the class balance of `y_kept` to that of `y_full`."""
        shares = [
            int(np.count_nonzero(y_kept == c))
            / max(int(np.count_nonzero(y_full == c)), 1)
            for c in (0, 1)
        ]
        return cls(shares[0] / shares[1] if shares[1] > 0 else 1.0)

    def apply(self, p1: np.ndarray) -> np.ndarray:
        """Probabilities of class 1 under the full data's class balance."""
        if self.odds_factor == 1.0:
            return p1
        odds = p1 * self.odds_factor
        return np.asarray(odds / (odds + (1.0 - p1)))


@dataclass(frozen=True)
class Platt:
    """Platt's sigmoid ``1 / (1 + exp(-(a * d + b)))`` of a decision value."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, decision: np.ndarray) -> np.ndarray:
        z = np.clip(self.a * decision + self.b, -500, 500)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fit_platt(decision: np.ndarray, y: np.ndarray) -> Platt:
    """Fit Platt's sigmoid to decision values and 0/1 labels (smoothed targets).

    Platt's smoothed targets ``(n1 + 1) / (n1 + 2)`` and ``1 / (n0 + 2)`` keep
    the fit finite when the classes separate completely.
    """
    from scipy.optimize import minimize

    n1 = np.count_nonzero(y == 1)
    n0 = len(y) - n1
    target = np.where(y == 1, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))
    spread = float(np.std(decision)) or 1.0
    d = decision / spread

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * d + params[1]
        log_p = -np.logaddexp(0.0, -z)
        log_q = -np.logaddexp(0.0, z)
        value = -np.sum(target * log_p + (1.0 - target) * log_q)
        residual = np.exp(log_p) - target
        return float(value), np.array([np.sum(residual * d), np.sum(residual)])

    prior = np.log((n1 + 1.0) / (n0 + 1.0))
    result = minimize(loss, np.array([1.0, prior]), jac=True, method="L-BFGS-B")
    a, b = result.x
    return Platt(float(a) / spread, float(b))
