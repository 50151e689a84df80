"""Fixed-seed minimum-quality tests of the classical models on real data.

The floors were measured when the models were written and leave a margin:
AI4I 2020 with a stratified 50/50 split (seed 0) and ASD servers fitted on
``train`` and scored on ``test``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from qnrecovery.classical.detectors import (
    IsolationForestDetector,
    RollingZScoreDetector,
)
from qnrecovery.classical.predictors import (
    GradientBoostingPredictor,
    LogisticPredictor,
    RBFSVCPredictor,
)

DATA = Path(
    os.environ.get(
        "QNRECOVERY_SHARED_DATA",
        Path(__file__).resolve().parents[3] / "shared" / "data",
    )
)
AI4I = DATA / "ai4i2020" / "ai4i2020.csv"


def require(path: Path) -> Path:
    """Return ``path``; skip the test if it is missing, or fail when CI=true."""
    if not path.exists():
        message = f"real-data file {path} is missing"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def load_ai4i() -> tuple[np.ndarray, np.ndarray]:
    """Numeric features (type one-hot plus five sensors) and machine failure."""
    with require(AI4I).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    sensors = [
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear [min]",
    ]
    X = np.array(
        [
            [row["Type"] == t for t in "LMH"] + [float(row[c]) for c in sensors]
            for row in rows
        ],
        dtype=float,
    )
    y = np.array([int(row["Machine failure"]) for row in rows])
    return X, y


def load_asd(server: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(require(DATA / "asd" / f"{server}.npz"), allow_pickle=False) as data:
        return data["train"], data["test"], data["test_label"]


@pytest.fixture(scope="module")
def ai4i_split() -> list[np.ndarray]:
    X, y = load_ai4i()
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


# Measured ROC AUC on the held-out half: logistic 0.889, gradient boosting 0.960,
# RBF SVC 0.952.
@pytest.mark.parametrize(
    ("model", "floor"),
    [
        (LogisticPredictor(random_state=0), 0.85),
        (GradientBoostingPredictor(random_state=0), 0.93),
        (RBFSVCPredictor(random_state=0), 0.90),
    ],
    ids=["logistic", "gradient-boosting", "rbf-svc"],
)
def test_predictor_quality_on_ai4i(model, floor, ai4i_split):
    X_train, X_test, y_train, y_test = ai4i_split
    model.fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    assert auc >= floor, f"{type(model).__name__} ROC AUC {auc:.3f} < {floor}"


# Measured ROC AUC: IsolationForest on omi-1 0.57 with seed 0 (0.57-0.66 over
# seeds 0-4). The rolling z-score is near chance on omi-1 (0.44: its anomalies
# are sustained shifts the rolling window absorbs), so it is held to omi-2,
# where it scores 0.72.
@pytest.mark.parametrize(
    ("server", "detector", "floor"),
    [
        ("omi-1", IsolationForestDetector(n_estimators=200, random_state=0), 0.55),
        ("omi-2", RollingZScoreDetector(window=60), 0.65),
    ],
    ids=["isolation-forest-omi-1", "zscore-omi-2"],
)
def test_detector_quality_on_asd(server, detector, floor):
    train, test, labels = load_asd(server)
    scores = detector.fit(train).score(test)
    auc = roc_auc_score(labels, scores)
    assert auc >= floor, f"{type(detector).__name__} ROC AUC {auc:.3f} < {floor}"
