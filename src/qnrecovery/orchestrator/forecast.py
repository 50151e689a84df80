"""Anomaly scores and failure probabilities for the replayed telemetry.

Detectors score each component's stream causally; predictors turn trailing
windows of metrics and scores into the probability that the component fails
within the planner's horizon. A predictor is never trained on the rows it is
judged on: with several servers it is trained on the others (leave one server
out); with a single server, on the other time blocks of the same series
(blocked cross-fitting, the blocks cut between anomaly segments). Rows deep
inside a long anomaly segment are left out of training (see
:func:`training_mask`).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qnrecovery.exceptions import DataError

__all__ = ["Forecast", "fault_rows", "forecast", "horizon_labels", "training_mask"]

logger = logging.getLogger(__name__)


@dataclass
class Forecast:
    """What the detector and predictor said about one server's test rows.

    Attributes
    ----------
    server : str
        Name of the server whose telemetry is replayed.
    scores : ndarray of shape (T,)
        Anomaly score after each row, in [0, 1].
    probabilities : ndarray of shape (T,)
        Failure probability after each row.
    fault_rows : list of int
        Rows at whose start a fault is injected (one past each anomaly).
    training : str
        How the predictor was trained, in words.
    trained_on : list of str
        Servers (or blocks) whose rows trained the predictor.
    timings : dict
        Seconds spent fitting and scoring.
    """

    server: str
    scores: np.ndarray
    probabilities: np.ndarray
    fault_rows: list[int]
    training: str
    trained_on: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def fault_rows(segments: Sequence[tuple[int, int]], n_rows: int) -> list[int]:
    """Rows at whose start a fault happens: one past each segment's last row."""
    rows = sorted({min(int(end) + 1, n_rows) for _, end in segments})
    return [r for r in rows if 0 < r <= n_rows]


def horizon_labels(n_rows: int, faults: Sequence[int], horizon: int) -> np.ndarray:
    """1 for every row after which a fault follows within ``horizon`` rows."""
    labels = np.zeros(n_rows, dtype=np.int8)
    for fault in faults:
        labels[max(0, fault - horizon) : min(fault, n_rows)] = 1
    return labels


def training_mask(
    n_rows: int, segments: Sequence[tuple[int, int]], horizon: int
) -> np.ndarray:
    """Rows whose label is well defined for training.

    Rows inside an anomaly segment but more than ``horizon`` rows before its
    end are anomalous, yet labelled "no fault within the horizon" only
    because the segment is long; they are left out of training.
    """
    mask = np.ones(n_rows, dtype=bool)
    for start, end in segments:
        mask[start : max(start, end + 1 - horizon)] = False
    return mask


def forecast(
    servers: Sequence[Any],
    targets: Sequence[int],
    make_detector: Callable[[], Any],
    make_predictor: Callable[[], Any],
    *,
    horizon: int,
    window: int,
    progress: Callable[[str], None] | None = None,
) -> dict[int, Forecast]:
    """Score every server and predict failures for the ``targets``.

    Parameters
    ----------
    servers : sequence of ServerMetrics
        Every server available for training (targets index into it).
    targets : sequence of int
        Indices of the servers whose telemetry the drill replays.
    make_detector, make_predictor : callable
        Build a fresh, unfitted backend.
    horizon : int
        Predictor horizon in rows.
    window : int
        Trailing rows summarised into each feature vector.
    progress : callable, optional
        Called with a short message after each step.

    Returns
    -------
    dict of int to Forecast
        One forecast per distinct target index.
    """
    from qnrecovery.classical.predictors import make_failure_features

    say = progress or (lambda message: None)
    widths = {s.test.shape[1] for s in servers}
    if len(widths) != 1:
        raise DataError(
            "All servers of a drill must have the same number of metrics; got "
            f"{sorted(widths)}. Pass servers from one data set."
        )

    features, labels, scores, timings = [], [], [], []
    usable: list[np.ndarray] = []
    for server in servers:
        started = time.perf_counter()
        detector = make_detector().fit(server.train)
        fitted = time.perf_counter()
        server_scores = np.asarray(detector.score(server.test), dtype=float)
        scored = time.perf_counter()
        faults = fault_rows(server.segments, len(server.test))
        scores.append(server_scores)
        features.append(make_failure_features(server.test, server_scores, window))
        labels.append(horizon_labels(len(server.test), faults, horizon))
        usable.append(training_mask(len(server.test), server.segments, horizon))
        timings.append(
            {"detector_fit_s": fitted - started, "detector_score_s": scored - fitted}
        )
        say(f"scored {server.name}")

    results: dict[int, Forecast] = {}
    for index in sorted(set(targets)):
        server = servers[index]
        started = time.perf_counter()
        if len(servers) > 1:
            probabilities, trained_on, how = _leave_one_out(
                index, servers, features, labels, usable, make_predictor
            )
        else:
            probabilities, trained_on, how = _blocked(
                server, features[index], labels[index], usable[index], make_predictor
            )
        results[index] = Forecast(
            server=server.name,
            scores=scores[index],
            probabilities=probabilities,
            fault_rows=fault_rows(server.segments, len(server.test)),
            training=how,
            trained_on=trained_on,
            timings={**timings[index], "predictor_s": time.perf_counter() - started},
        )
        say(f"predicted {server.name}")
    return results


def _positive_proba(model: Any, X: np.ndarray) -> np.ndarray:
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = list(getattr(model, "classes_", [0, 1]))
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(X))


def _leave_one_out(
    index: int,
    servers: Sequence[Any],
    features: list[np.ndarray],
    labels: list[np.ndarray],
    usable: list[np.ndarray],
    make_predictor: Callable[[], Any],
) -> tuple[np.ndarray, list[str], str]:
    others = [i for i in range(len(servers)) if i != index]
    X = np.concatenate([features[i][usable[i]] for i in others])
    y = np.concatenate([labels[i][usable[i]] for i in others])
    if len(np.unique(y)) < 2:
        raise DataError(
            "The servers used to train the predictor have no labelled anomaly; "
            "pass data with labelled incidents."
        )
    model = make_predictor().fit(X, y)
    names = [servers[i].name for i in others]
    how = f"leave one server out: trained on {', '.join(names)} ({len(y)} rows)"
    return _positive_proba(model, features[index]), names, how


def _blocked(
    server: Any,
    X: np.ndarray,
    y: np.ndarray,
    usable: np.ndarray,
    make_predictor: Callable[[], Any],
    n_blocks: int = 4,
) -> tuple[np.ndarray, list[str], str]:
    n_rows = len(y)
    cuts = _block_cuts(n_rows, server.segments, n_blocks)
    probabilities = np.zeros(n_rows)
    used = []
    for k, (start, stop) in enumerate(itertools.pairwise(cuts)):
        train = usable.copy()
        train[start:stop] = False
        if len(np.unique(y[train])) < 2:
            logger.warning(
                "Block %d of %s has no anomaly outside it; its rows get probability 0.",
                k,
                server.name,
            )
            continue
        model = make_predictor().fit(X[train], y[train])
        probabilities[start:stop] = _positive_proba(model, X[start:stop])
        used.append(f"{server.name}[{start}:{stop}]")
    how = (
        f"blocked cross-fitting on {server.name}: {len(cuts) - 1} time blocks, "
        "each predicted by a model trained on the other blocks"
    )
    return probabilities, used, how


def _block_cuts(
    n_rows: int, segments: Sequence[tuple[int, int]], n_blocks: int
) -> list[int]:
    """Block boundaries near equal splits, moved off anomaly segments."""
    cuts = [0]
    for k in range(1, n_blocks):
        cut = k * n_rows // n_blocks
        for start, end in segments:
            if start <= cut <= end + 1:
                cut = end + 2
        if cuts[-1] < cut < n_rows:
            cuts.append(cut)
    cuts.append(n_rows)
    return cuts
