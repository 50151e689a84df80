"""Train the quantum-kernel predictor on AI4I 2020 next to its classical twin.

Usage::

    python docs/examples/train_quantum_predictor.py [PATH/TO/ai4i2020.csv]

Without an argument the file is looked up in ``$QNRECOVERY_AI4I``, then in
``$QNRECOVERY_SHARED_DATA/ai4i2020/ai4i2020.csv``. A small balanced subsample
keeps the kernel matrices small (200 training rows, 100 test rows).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from qnrecovery.data import load_ai4i
from qnrecovery.registry import backend


def find_ai4i(argv: list[str]) -> Path:
    """The AI4I CSV named on the command line or in the environment."""
    if len(argv) > 1:
        return Path(argv[1])
    if "QNRECOVERY_AI4I" in os.environ:
        return Path(os.environ["QNRECOVERY_AI4I"])
    if "QNRECOVERY_SHARED_DATA" in os.environ:
        return Path(os.environ["QNRECOVERY_SHARED_DATA"], "ai4i2020", "ai4i2020.csv")
    sys.exit(
        "error: AI4I 2020 is not bundled (2.9 MB); pass the path of ai4i2020.csv "
        "as the first argument, or set QNRECOVERY_AI4I to it."
    )


def balanced_split(
    y: np.ndarray, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train and a test set, ``per_class`` rows of each class."""
    train, test = [], []
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))[: per_class + per_class // 2]
        train += list(rows[:per_class])
        test += list(rows[per_class:])
    return np.array(train), np.array(test)


def main() -> None:
    data = load_ai4i(find_ai4i(sys.argv))
    print(f"loaded {data!r}")
    train, test = balanced_split(data.y, per_class=100, rng=np.random.default_rng(0))
    X_train, y_train = data.X[train], data.y[train]
    X_test, y_test = data.X[test], data.y[test]

    # The quantum kernel, the same model with a Gaussian kernel on the same
    # angles (what the quantum encoding adds), and the classical RBF SVC.
    models = {
        "quantum-kernel": backend("predictor", "quantum-kernel", random_state=0),
        "quantum-kernel kernel=rbf": backend(
            "predictor", "quantum-kernel", kernel="rbf", random_state=0
        ),
        "rbf-svc": backend("predictor", "rbf-svc", random_state=0),
    }
    print(f"{len(train)} training rows, {len(test)} test rows, half of them failures")
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(X_train, y_train)
        p_fail = model.predict_proba(X_test)[:, 1]
        elapsed = time.perf_counter() - started
        print(
            f"{name:<25}: ROC AUC {roc_auc_score(y_test, p_fail):.3f}, "
            f"balanced accuracy {balanced_accuracy_score(y_test, p_fail >= 0.5):.3f}, "
            f"fit + predict {elapsed:.2f} s"
        )


if __name__ == "__main__":
    main()
