"""The Numenta Anomaly Benchmark's scoring rules.

A detector gives every row of a series an anomaly score; a row is a
*detection* when its score reaches the threshold. NAB rewards detections
inside the labelled anomaly windows, the earlier the better, and penalises
detections outside them:

* **Probationary period.** The first ``min(floor(0.15 * n), 750)`` rows of a
  file are for learning; they are not scored at all.
* **Scaled sigmoid.** ``sigma(x) = 2 / (1 + exp(5 x)) - 1`` (and -1 for
  ``x > 3``). Inside a window of ``w`` rows ending at row ``r``, row ``i`` sits
  at ``x = -(r - i + 1) / w`` (``-1`` at the window's start, near 0 at its
  end) and is worth ``tp_weight * sigma(x) / sigma(-1)``: 1.0 at the start.
  Outside windows a row is worth ``fp_weight * sigma(x)``, negative, with
  ``x = |r_prev - i| / (w_prev - 1)`` measured from the end of the preceding
  window (so a late detection just after a window costs little), or
  ``-fp_weight`` before the first window.
* **File score.** Each window scores the value of its earliest detection, or
  ``-fn_weight`` when it has none; every detection outside the windows adds
  its (negative) value.
* **Profiles.** ``standard`` (fp 0.11, fn 1.0), ``reward_low_FP_rate``
  (fp 0.22, fn 1.0), ``reward_low_FN_rate`` (fp 0.11, fn 2.0); tp 1.0 in all.
* **Threshold.** Per profile, one threshold for the whole corpus, chosen to
  maximise the summed raw score over all files.
* **Normalisation.** ``100 * (raw - null) / (perfect - null)`` with the null
  detector (no detections: ``-fn_weight`` per window) at 0 and the perfect one
  (every window caught at its first row, no false positive: ``tp_weight`` per
  window) at 100.

:func:`write_nab_results` writes scores in NAB's results layout,
``<out>/<detector>/<category>/<detector>_<file>.csv`` with the columns
``timestamp,value,anomaly_score,label``.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.data.nab_scoring import score_file
>>> stamps = np.arange(100).astype("datetime64[m]")
>>> windows = [(stamps[40], stamps[49])]
>>> scores = np.zeros(100)
>>> scores[40] = 1.0  # a detection at the window's first row
>>> round(score_file(stamps, scores, windows, "standard", 0.5).score, 6)
1.0
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.exceptions import ConfigError, DataError

__all__ = [
    "PROFILES",
    "CorpusScore",
    "CostMatrix",
    "FileScore",
    "NabFile",
    "corpus_score",
    "optimize_threshold",
    "probationary_length",
    "row_weights",
    "scaled_sigmoid",
    "score_file",
    "write_nab_results",
]

#: Share of a file that is probationary, and the cap on its length in rows.
PROBATIONARY_FRACTION = 0.15
PROBATIONARY_MAX = PROBATIONARY_FRACTION * 5000


@dataclass(frozen=True)
class CostMatrix:
    """Weights of one scoring profile."""

    tp: float
    fp: float
    fn: float
    tn: float = 1.0


#: NAB's three profiles (``config/profiles.json``).
PROFILES: Mapping[str, CostMatrix] = {
    "standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostMatrix(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostMatrix(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class FileScore:
    """Raw score and confusion counts of one file at one threshold.

    Counts are over scored (post-probationary) rows: ``tp`` detections inside
    windows, ``fp`` detections outside, ``fn`` window rows not detected,
    ``tn`` other rows not detected.
    """

    score: float
    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def total(self) -> int:
        """Scored rows."""
        return self.tp + self.tn + self.fp + self.fn


@dataclass(frozen=True)
class NabFile:
    """What scoring needs of one file: row times, scores and windows.

    ``windows`` holds ``(start, end)`` pairs as timestamp strings or
    ``datetime64``, as in NAB's ``combined_windows.json``.
    """

    name: str
    timestamps: np.ndarray
    scores: np.ndarray
    windows: Sequence[Any]


@dataclass(frozen=True)
class CorpusScore:
    """A detector's result under one profile on a set of files.

    Attributes
    ----------
    profile : str
    threshold : float
        The threshold that maximises ``raw``.
    raw : float
        Summed raw score of the files at ``threshold``.
    null, perfect : float
        Raw scores of the null and the perfect detector.
    files : dict of str to FileScore
        Each file at ``threshold``.
    """

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    files: dict[str, FileScore]

    @property
    def normalized(self) -> float:
        """``100 * (raw - null) / (perfect - null)``; 0 without any window."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span > 0 else 0.0


def probationary_length(n_rows: int) -> float:
    """NAB's probationary period: ``min(floor(0.15 * n_rows), 750)`` rows."""
    if n_rows < 0:
        raise DataError(f"`n_rows` must be >= 0; got {n_rows}.")
    return min(math.floor(PROBATIONARY_FRACTION * n_rows), PROBATIONARY_MAX)


def scaled_sigmoid(position: float) -> float:
    """``2 / (1 + exp(5 * position)) - 1``, and -1 beyond ``position`` 3."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """:func:`scaled_sigmoid` of every element."""
    with np.errstate(over="ignore"):
        values = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, values)


def _profile(profile: str | CostMatrix) -> CostMatrix:
    if isinstance(profile, CostMatrix):
        return profile
    if profile not in PROFILES:
        raise ConfigError(
            f"Unknown NAB profile {profile!r}; expected one of {', '.join(PROFILES)}."
        )
    return PROFILES[profile]


def _window_rows(
    timestamps: np.ndarray, windows: Sequence[tuple[Any, Any]]
) -> list[tuple[int, int]]:
    """First and last row of each window; windows without rows are dropped.

    Rows are taken in file order, as NAB does: a window runs from the first
    row at or after its start to the row before the first later row past its
    end, so a stray out-of-order or repeated timestamp does not split it.
    """
    stamps = np.asarray(timestamps).astype("datetime64[s]")
    if stamps.ndim != 1:
        raise DataError("`timestamps` must be one-dimensional.")
    rows = []
    for start, end in sorted(windows, key=lambda w: np.datetime64(w[0], "s")):
        begin, finish = np.datetime64(start, "s"), np.datetime64(end, "s")
        candidates = np.flatnonzero(stamps >= begin)
        if candidates.size == 0:
            continue
        first = int(candidates[0])
        after = np.flatnonzero(stamps[first:] > finish)
        last = first + int(after[0]) - 1 if after.size else len(stamps) - 1
        if first <= last:
            rows.append((first, last))
    for (_, end), (start, _) in itertools.pairwise(rows):
        if start <= end:
            raise DataError("NAB windows of one file must not overlap.")
    return rows


def row_weights(
    timestamps: np.ndarray,
    windows: Sequence[tuple[Any, Any]],
    profile: str | CostMatrix = "standard",
) -> tuple[np.ndarray, np.ndarray]:
    """What a detection at each row is worth, and the window each row is in.

    Returns
    -------
    weights : ndarray of shape (n,)
        The profile-weighted value of a detection at each row (positive in a
        window, negative outside).
    window : ndarray of int, shape (n,)
        Index of the row's window, or -1 outside every window.
    """
    costs = _profile(profile)
    n = len(timestamps)
    limits = _window_rows(timestamps, windows)
    weights = np.full(n, -costs.fp)  # before the first window
    window = np.full(n, -1, dtype=np.int64)
    rows = np.arange(n, dtype=float)

    for k, (first, last) in enumerate(limits):
        width = last - first + 1
        position = -(last - rows[first : last + 1] + 1) / width
        weights[first : last + 1] = (
            _scaled_sigmoid(position) * costs.tp / scaled_sigmoid(-1.0)
        )
        window[first : last + 1] = k
        following = limits[k + 1][0] if k + 1 < len(limits) else n
        if width > 1:
            past = np.abs(last - rows[last + 1 : following]) / (width - 1)
            weights[last + 1 : following] = _scaled_sigmoid(past) * costs.fp
    return weights, window


def _scored_rows(n: int) -> slice:
    return slice(math.ceil(probationary_length(n)), n)


def score_file(
    timestamps: np.ndarray,
    scores: np.ndarray,
    windows: Sequence[tuple[Any, Any]],
    profile: str | CostMatrix,
    threshold: float,
) -> FileScore:
    """Raw NAB score of one file at ``threshold`` (a row detects if score >= it).

    Raises
    ------
    DataError
        If lengths differ, scores are not finite, or windows overlap. Rows are
        scored in the order given (NAB's own order is the file's; see
        :func:`qnrecovery.data.nab.read_nab_rows`).
    """
    scores = _check_scores(timestamps, scores)
    costs = _profile(profile)
    weights, window = row_weights(timestamps, windows, costs)
    keep = _scored_rows(len(scores))
    weights, window, detected = weights[keep], window[keep], scores[keep] >= threshold

    in_window = window >= 0
    total = float(np.sum(weights[detected & ~in_window]))
    for k in np.unique(window[in_window]):
        hits = detected & (window == k)
        total += float(weights[hits].max()) if hits.any() else -costs.fn
    return FileScore(
        score=total,
        tp=int(np.sum(detected & in_window)),
        tn=int(np.sum(~detected & ~in_window)),
        fp=int(np.sum(detected & ~in_window)),
        fn=int(np.sum(~detected & in_window)),
    )


def _check_scores(timestamps: np.ndarray, scores: Any) -> np.ndarray:
    values = np.asarray(scores, dtype=float)
    if values.shape != (len(timestamps),):
        raise DataError(
            f"`scores` must hold one value per row ({len(timestamps)}); "
            f"got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise DataError("`scores` must be finite; it holds NaN or infinity.")
    return values


def _file_curve(item: NabFile, costs: CostMatrix, thresholds: np.ndarray) -> np.ndarray:
    """Raw score of one file at every candidate threshold (descending)."""
    scores = _check_scores(item.timestamps, item.scores)
    weights, window = row_weights(item.timestamps, item.windows, costs)
    keep = _scored_rows(len(scores))
    scores, weights, window = scores[keep], weights[keep], window[keep]
    negative = -thresholds  # ascending, for searchsorted

    outside = window < 0
    order = np.argsort(-scores[outside], kind="stable")
    fp_sorted = -scores[outside][order]
    fp_sum = np.concatenate([[0.0], np.cumsum(weights[outside][order])])
    curve = fp_sum[np.searchsorted(fp_sorted, negative, side="right")]

    for k in np.unique(window[~outside]):
        inside = window == k
        order = np.argsort(-scores[inside], kind="stable")
        best = np.concatenate(
            [[-costs.fn], np.maximum.accumulate(weights[inside][order])]
        )
        curve = curve + best[np.searchsorted(-scores[inside][order], negative, "right")]
    return curve


def optimize_threshold(
    files: Sequence[NabFile], profile: str | CostMatrix
) -> tuple[float, float]:
    """The corpus-wide threshold that maximises the summed raw score.

    Candidates are every distinct score (and one above the highest, meaning
    no detection at all); ties go to the highest threshold.

    Returns
    -------
    threshold, raw : float
    """
    costs = _profile(profile)
    if not files:
        raise DataError("NAB scoring needs at least one file; got none.")
    values = np.unique(np.concatenate([np.asarray(f.scores, float) for f in files]))
    thresholds = np.concatenate([[values.max() + 1.0], values[::-1]])
    total = np.zeros(thresholds.shape[0])
    for item in files:
        total += _file_curve(item, costs, thresholds)
    best = int(np.argmax(total))
    return float(thresholds[best]), float(total[best])


def corpus_score(
    files: Sequence[NabFile],
    profile: str | CostMatrix,
    threshold: float | None = None,
) -> CorpusScore:
    """Score ``files`` under ``profile``, optimising the threshold if not given."""
    costs = _profile(profile)
    if threshold is None:
        threshold, _ = optimize_threshold(files, costs)
    per_file = {
        f.name: score_file(f.timestamps, f.scores, f.windows, costs, threshold)
        for f in files
    }
    n_windows = sum(len(_window_rows(f.timestamps, f.windows)) for f in files)
    return CorpusScore(
        profile=profile if isinstance(profile, str) else "custom",
        threshold=float(threshold),
        raw=float(sum(s.score for s in per_file.values())),
        null=-costs.fn * n_windows,
        perfect=costs.tp * n_windows,
        files=per_file,
    )


def write_nab_results(
    out: str | os.PathLike[str],
    detector: str,
    name: str,
    timestamps: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
) -> Path:
    """Write one file's results in NAB's layout; return the path written.

    The file is ``<out>/<detector>/<category>/<detector>_<file>.csv`` for a
    series named ``"<category>/<file>.csv"``, with the header
    ``timestamp,value,anomaly_score,label``.
    """
    category, _, file_name = name.rpartition("/")
    if not file_name.endswith(".csv"):
        raise ConfigError(f"NAB series names end in '.csv'; got {name!r}.")
    scores = _check_scores(timestamps, scores)
    folder = Path(out) / detector / category
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{detector}_{file_name}"
    stamps = np.asarray(timestamps).astype("datetime64[s]").astype(str)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        rows = zip(stamps, values, scores, np.asarray(labels, int), strict=True)
        for stamp, value, score, label in rows:
            writer.writerow(
                [stamp.replace("T", " "), repr(float(value)), repr(float(score)), label]
            )
    return path
