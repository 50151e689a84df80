"""Quantum failure predictors beside the classical ones, on the same rows.

Three real data sets, each split so that nothing scored was trained on:

- **ai4i**: AI4I 2020, "Machine failure" from the six process features; a
  stratified 50/50 split.
- **asd (by server)**: ASD server metrics; predict "an incident segment
  starts within the next 12 rows (1 h)" from trailing-window features of the
  metrics plus a rolling z-score detector's score
  (:func:`~qnrecovery.classical.predictors.make_failure_features`); trained
  on servers omi-1..4, scored on omi-5..8.
- **smd (by time)**: SMD server metrics, the same label with a 30-row (30 min)
  horizon; each server's first 60 % trains, its last 40 % is scored.

Rows inside an incident (label undefined) are left out. Training rows are
subsampled (stratified, seeded) to a size the quantum models can take, and
every model gets the same rows: three quarters to fit, one quarter to choose
the decision threshold that maximises F1 (the "calibrated threshold"). All
models score the same test rows.

Models: ``quantum-kernel`` (exact fidelity kernel, defaults), the same
pipeline with a Gaussian kernel on the same angles (``kernel="rbf"``, the
ablation without the quantum encoder), ``quantum-kernel`` at bandwidth 0.5
(a wider angle range), ``variational``, and the classical ``rbf-svc``,
``logistic`` and ``gradient-boosting``. Fit and predict times are wall times
including the classical pipeline around the circuits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.bench.runs import Run, RunExecutor, map_runs
from qnrecovery.bench.suite import Progress, SuiteReport

__all__ = ["MODELS", "Split", "evaluate", "fit_and_score", "load_splits", "run_suite"]

logger = logging.getLogger(__name__)

#: Model label -> (registered predictor name, options).
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "quantum-kernel": ("quantum-kernel", {}),
    "ablation: same SVC, Gaussian kernel": ("quantum-kernel", {"kernel": "rbf"}),
    "quantum-kernel, bandwidth 0.5": ("quantum-kernel", {"bandwidth": 0.5}),
    "variational": ("variational", {}),
    "rbf-svc": ("rbf-svc", {}),
    "logistic": ("logistic", {}),
    "gradient-boosting": ("gradient-boosting", {}),
}


@dataclass
class Split:
    """One data set's training and test rows.

    Attributes
    ----------
    name : str
    X_train, y_train, X_test, y_test : ndarray
    description : str
        How the split was made.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str


def _data_root() -> Path:
    default = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    return Path(os.environ.get("QNRECOVERY_SHARED_DATA", default))


def _ai4i(root: Path, seed: int) -> Split:
    from sklearn.model_selection import train_test_split

    from qnrecovery.data.ai4i import load_ai4i

    data = load_ai4i(root / "ai4i2020" / "ai4i2020.csv")
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.X, data.y, test_size=0.5, stratify=data.y, random_state=seed
    )
    return Split("ai4i", X_tr, y_tr, X_te, y_te, "stratified 50/50 split")


def _server_rows(server: Any, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one server's test rows outside incidents."""
    from qnrecovery.classical.detectors import RollingZScoreDetector
    from qnrecovery.classical.predictors import make_failure_features
    from qnrecovery.orchestrator.forecast import horizon_labels

    scores = RollingZScoreDetector(window=60).fit(server.train).score(server.test)
    features = make_failure_features(server.test, scores, window=12)
    starts = [int(start) for start, _ in server.segments]
    labels = horizon_labels(len(server.test), starts, horizon)
    outside = server.test_label == 0
    return features[outside], labels[outside].astype(int)


def _asd(root: Path) -> Split:
    from qnrecovery.data.servers import load_servers

    servers = load_servers(root / "asd")
    rows = [_server_rows(s, horizon=12) for s in servers]
    train, test = rows[:4], rows[4:]
    names = [s.name for s in servers]
    return Split(
        "asd",
        np.vstack([r[0] for r in train]),
        np.concatenate([r[1] for r in train]),
        np.vstack([r[0] for r in test]),
        np.concatenate([r[1] for r in test]),
        f"by server: trained on {', '.join(names[:4])}; "
        f"scored on {', '.join(names[4:])}; horizon 12 rows",
    )


def _smd(root: Path) -> Split:
    from qnrecovery.data.servers import load_servers

    parts: dict[str, list[np.ndarray]] = {"Xa": [], "ya": [], "Xb": [], "yb": []}
    for server in load_servers(root / "smd"):
        X, y = _server_rows(server, horizon=30)
        cut = int(0.6 * len(y))
        parts["Xa"].append(X[:cut])
        parts["ya"].append(y[:cut])
        parts["Xb"].append(X[cut:])
        parts["yb"].append(y[cut:])
    return Split(
        "smd",
        np.vstack(parts["Xa"]),
        np.concatenate(parts["ya"]),
        np.vstack(parts["Xb"]),
        np.concatenate(parts["yb"]),
        "by time: each server's first 60 % trains, last 40 % is scored; "
        "horizon 30 rows",
    )


def load_splits(seed: int, root: Path | None = None) -> list[Split]:
    """The three data sets' splits (missing data sets are left out)."""
    root = root if root is not None else _data_root()
    loaders: list[tuple[str, Callable[[], Split]]] = [
        ("ai4i", lambda: _ai4i(root, seed)),
        ("asd", lambda: _asd(root)),
        ("smd", lambda: _smd(root)),
    ]
    splits = []
    for name, load in loaders:
        try:
            splits.append(load())
        except (OSError, ValueError) as err:
            logger.warning("Leaving out data set %s: %s", name, err)
    return splits


def _best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def evaluate(
    split: Split,
    train_rows: int,
    seed: int,
    models: dict[str, Any] | None = None,
    *,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[dict[str, Any]]:
    """Fit every model on the same rows of `split` and score the same test rows.

    The subsample is drawn here; each model is then one run of `runs`.

    Returns
    -------
    list of dict
        One record per model: ``roc_auc``, ``pr_auc``, ``f1``, ``threshold``,
        ``fit_s``, ``predict_s`` and the row counts.
    """
    from sklearn.model_selection import train_test_split

    from qnrecovery.quantum._pipeline import stratified_subsample

    rng = np.random.default_rng(seed)
    rows = stratified_subsample(split.y_train, train_rows, rng)
    X_fit, X_val, y_fit, y_val = train_test_split(
        split.X_train[rows],
        split.y_train[rows],
        test_size=0.25,
        stratify=split.y_train[rows],
        random_state=seed,
    )
    rows_of = {
        "X_fit": X_fit,
        "y_fit": y_fit,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": split.X_test,
        "y_test": split.y_test,
    }
    model_runs = [
        Run(
            f"{split.name} / {label}",
            fit_and_score,
            {
                "data": split.name,
                "label": label,
                "name": name,
                "options": options,
                "seed": seed,
                **rows_of,
            },
        )
        for label, (name, options) in (models or MODELS).items()
    ]
    records = map_runs(model_runs, runs, progress, span=span)
    for record in records:
        logger.info("%s / %s: %s", split.name, record["model"], record)
    return records


def fit_and_score(
    *,
    data: str,
    label: str,
    name: str,
    options: dict[str, Any],
    seed: int,
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
) -> dict[str, Any]:
    """One model on one data set: fit, pick the F1 threshold, score the test rows.

    Returns
    -------
    dict
        The record :func:`evaluate` returns for this model.
    """
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    from qnrecovery.registry import backend

    model = backend("predictor", name, random_state=seed, **options)
    started = time.perf_counter()
    model.fit(X_fit, y_fit)
    fitted = time.perf_counter()
    p_test = model.predict_proba(X_test)[:, 1]
    predicted = time.perf_counter()
    threshold = _best_f1_threshold(y_val, model.predict_proba(X_val)[:, 1])
    return {
        "data": data,
        "model": label,
        "roc_auc": float(roc_auc_score(y_test, p_test)),
        "pr_auc": float(average_precision_score(y_test, p_test)),
        "f1": float(f1_score(y_test, p_test >= threshold)),
        "threshold": threshold,
        "fit_s": fitted - started,
        "predict_s": predicted - fitted,
        "fit_rows": len(y_fit),
        "threshold_rows": len(y_val),
        "test_rows": len(y_test),
        "test_positive_rate": float(y_test.mean()),
    }


def _table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| data | model | ROC-AUC | PR-AUC | F1 | fit s | predict s "
        "| fit / threshold / test rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['data']} | {r['model']} | {r['roc_auc']:.3f} | {r['pr_auc']:.3f} "
            f"| {r['f1']:.3f} | {r['fit_s']:.2f} | {r['predict_s']:.2f} "
            f"| {r['fit_rows']} / {r['threshold_rows']} / {r['test_rows']} |"
        )
    return "\n".join(lines)


def _winners(records: list[dict[str, Any]]) -> list[str]:
    notes = []
    for data in dict.fromkeys(r["data"] for r in records):
        rows = [r for r in records if r["data"] == data]
        best = max(rows, key=lambda r: r["pr_auc"])
        quantum = next(r for r in rows if r["model"] == "quantum-kernel")
        ablation = next(r for r in rows if r["model"].startswith("ablation"))
        notes.append(
            f"{data}: best PR-AUC {best['pr_auc']:.3f} by {best['model']}; "
            f"quantum-kernel {quantum['pr_auc']:.3f}, its Gaussian-kernel twin "
            f"{ablation['pr_auc']:.3f}."
        )
    return notes


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    runs: RunExecutor | None = None,
) -> SuiteReport:
    """Run every model on every data set; ``quick`` uses fewer training rows.

    Each model on each data set is one run of `runs`.
    """
    train_rows = 600 if quick else 1500
    splits = load_splits(seed)
    records: list[dict[str, Any]] = []
    for index, split in enumerate(splits):
        span = (index / len(splits), (index + 1) / len(splits))
        records += evaluate(
            split, train_rows, seed, runs=runs, progress=progress, span=span
        )
    if progress is not None:
        progress("predictors done", 1.0)

    notes = [
        f"{s.name}: {s.description}; {len(s.y_train)} training rows "
        f"({s.y_train.mean():.1%} positive), {len(s.y_test)} test rows "
        f"({s.y_test.mean():.1%} positive)."
        for s in splits
    ]
    notes += [
        f"Every model fitted on the same stratified subsample of {train_rows} "
        "training rows (75 % to fit, 25 % to pick the F1 threshold); F1 is at "
        "that threshold on the test rows. Times are wall seconds on this machine."
    ]
    notes += _winners(records)
    return SuiteReport(
        name="predictors",
        table=_table(records),
        figures={"records": records, "train_rows": train_rows},
        notes=notes,
    )
