"""Loader for the ASD and SMD multivariate server-metric data sets.

Both data sets come as one NumPy ``.npz`` archive per server ("entity") with the
arrays ``train`` (T_train, D), ``test`` (T_test, D) and ``test_label`` (T_test,).
An optional ``interpretation_label/<entity>.txt`` file beside the archive lists
the labelled anomaly segments, one ``start-end:d1,d2,...`` line each, where the
``d`` are the 1-based indices of the metrics judged responsible.

The two data sets disagree on the end of a segment: ASD's ``end`` is inclusive,
SMD's is exclusive. :func:`load_server_metrics` works out which convention a file
uses by checking both against ``test_label`` and always returns inclusive ends.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from qnrecovery.data._common import as_existing_path, label_runs
from qnrecovery.exceptions import ConfigError, DataError

__all__ = ["NanPolicy", "ServerMetrics", "load_server_metrics", "load_servers"]

logger = logging.getLogger(__name__)

NanPolicy = Literal["raise", "ffill"]

#: Sampling interval in seconds, by entity-name prefix.
_KNOWN_INTERVALS_S = {"omi-": 300.0, "machine-": 60.0}
_REQUIRED_KEYS = ("train", "test", "test_label")
_SEGMENT_LINE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*(?::\s*([\d,\s]*))?$")


@dataclass(eq=False)
class ServerMetrics:
    """Metric series of one server, split into unlabelled train and labelled test.

    Attributes
    ----------
    name : str
        Entity name, e.g. ``"omi-1"`` or ``"machine-2-1"``.
    train : ndarray of shape (T_train, D), float64
        Training rows (unlabelled, assumed mostly normal).
    test : ndarray of shape (T_test, D), float64
        Test rows.
    test_label : ndarray of shape (T_test,), int8
        1 where the test row is anomalous, else 0.
    segments : list of tuple of int
        Labelled anomaly segments as ``(start, end)`` test-row indices, 0-based,
        both ends inclusive. Adjacent segments may touch.
    interval_s : float
        Time between two rows, in seconds.
    source : str
        Path of the file the data came from.
    segment_metrics : list of tuple of int
        For each segment, the 0-based metric columns judged responsible; empty
        tuples where the source gives none, and an empty list when the segments
        were derived from ``test_label``.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    test_label: np.ndarray
    segments: list[tuple[int, int]]
    interval_s: float
    source: str
    segment_metrics: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def n_metrics(self) -> int:
        """Number of metric columns ``D``."""
        return int(self.train.shape[1])

    def __repr__(self) -> str:
        return (
            f"ServerMetrics(name={self.name!r}, train={self.train.shape}, "
            f"test={self.test.shape}, segments={len(self.segments)}, "
            f"interval_s={self.interval_s})"
        )


def load_server_metrics(
    path: str | os.PathLike[str],
    *,
    interval_s: float | None = None,
    nan_policy: NanPolicy = "raise",
    segment_end_inclusive: bool | None = None,
) -> ServerMetrics:
    """Load one ASD or SMD entity from its ``.npz`` archive.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file, with keys ``train``, ``test`` and ``test_label``.
    interval_s : float, optional
        Seconds between rows. By default inferred from the entity name:
        300 for ASD (``omi-*``), 60 for SMD (``machine-*``).
    nan_policy : {"raise", "ffill"}, default="raise"
        What to do with NaN or infinite metric values. ``"raise"`` refuses the
        file; ``"ffill"`` replaces each one with the last finite value of the same
        column in the same array, and with 0 before the first finite value.
    segment_end_inclusive : bool, optional
        Whether the ``end`` of each line of ``interpretation_label/<name>.txt``
        is inclusive (ASD) or exclusive (SMD). By default both readings are
        checked against ``test_label`` and the one that matches is used.

    Returns
    -------
    ServerMetrics
        Arrays as float64, labels as int8, segments with inclusive ends. The
        segments come from the interpretation-label file when there is one, and
        else from the contiguous runs of ``test_label == 1``.

    Raises
    ------
    DataError
        If the file is missing or not an ``.npz`` archive, a key is missing, an
        array has the wrong number of dimensions or is empty, train and test
        have different column counts, the labels are not 0/1 or not one per
        test row, values are not finite under ``nan_policy="raise"``, or the
        segment file is malformed or disagrees with ``test_label``.
    ConfigError
        If ``nan_policy`` or ``interval_s`` is invalid.

    Examples
    --------
    >>> from qnrecovery.data import load_server_metrics, sample_path
    >>> m = load_server_metrics(sample_path("asd", "omi-1.npz"))
    >>> m.test.shape, len(m.segments), m.interval_s
    ((4320, 19), 7, 300.0)
    """
    if nan_policy not in ("raise", "ffill"):
        raise ConfigError(
            f"nan_policy of load_server_metrics must be 'raise' or 'ffill'; "
            f"got {nan_policy!r}."
        )
    p = as_existing_path(path, "ASD/SMD file")
    name = p.stem
    train, test, labels = _read_arrays(p)
    train = _handle_non_finite(train, "train", p, nan_policy)
    test = _handle_non_finite(test, "test", p, nan_policy)

    seg_file = p.parent / "interpretation_label" / f"{name}.txt"
    if seg_file.is_file():
        segments, metrics = _read_segments(seg_file, labels, segment_end_inclusive)
    else:
        segments, metrics = label_runs(labels), []

    return ServerMetrics(
        name=name,
        train=train,
        test=test,
        test_label=labels,
        segments=segments,
        interval_s=_interval_for(name, interval_s),
        source=str(p),
        segment_metrics=metrics,
    )


def load_servers(
    path: str | os.PathLike[str],
    *,
    interval_s: float | None = None,
    nan_policy: NanPolicy = "raise",
    segment_end_inclusive: bool | None = None,
) -> list[ServerMetrics]:
    """Load a single ``.npz`` entity or every ``.npz`` entity in a folder.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file, or a folder holding ``.npz`` files (not searched
        recursively; files are taken in natural order, so ``omi-2`` comes
        before ``omi-10``).
    interval_s, nan_policy, segment_end_inclusive
        Passed to :func:`load_server_metrics` for every file.

    Returns
    -------
    list of ServerMetrics
        One entry per file.

    Raises
    ------
    DataError
        If the path does not exist, a folder holds no ``.npz`` file, or any
        file fails to load (see :func:`load_server_metrics`).
    """
    p = as_existing_path(path, "ASD/SMD path")
    if p.is_dir():
        files = sorted(p.glob("*.npz"), key=_natural_key)
        if not files:
            raise DataError(
                f"folder {str(p)!r} holds no .npz file; point at an ASD/SMD "
                "folder or at one .npz file."
            )
    else:
        files = [p]
    return [
        load_server_metrics(
            f,
            interval_s=interval_s,
            nan_policy=nan_policy,
            segment_end_inclusive=segment_end_inclusive,
        )
        for f in files
    ]


def _natural_key(p: Path) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _interval_for(name: str, interval_s: float | None) -> float:
    if interval_s is not None:
        if not np.isfinite(interval_s) or interval_s <= 0:
            raise ConfigError(
                f"interval_s of load_server_metrics must be a positive number of "
                f"seconds; got {interval_s!r}."
            )
        return float(interval_s)
    for prefix, seconds in _KNOWN_INTERVALS_S.items():
        if name.startswith(prefix):
            return seconds
    raise DataError(
        f"cannot infer the sampling interval of entity {name!r} (known prefixes: "
        f"{', '.join(_KNOWN_INTERVALS_S)}); pass interval_s= in seconds."
    )


def _read_arrays(p: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and validate the three arrays; labels come back as int8."""
    try:
        archive = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{str(p)!r} is not a readable .npz archive ({err}); expected a NumPy "
            "zip with arrays train, test and test_label."
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{str(p)!r} holds a single array, not an .npz archive with arrays "
            "train, test and test_label."
        )
    with archive:
        missing = [k for k in _REQUIRED_KEYS if k not in archive.files]
        if missing:
            raise DataError(
                f"{str(p)!r} lacks the array(s) {', '.join(missing)}; an ASD/SMD "
                f"archive needs train, test and test_label (found: "
                f"{', '.join(archive.files) or 'none'})."
            )
        try:
            arrays = {k: np.asarray(archive[k]) for k in _REQUIRED_KEYS}
        except (ValueError, OSError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read the arrays of {str(p)!r}: {err}") from err

    train, test, raw_labels = (arrays[k] for k in _REQUIRED_KEYS)
    _check_shapes(p, train, test, raw_labels)
    return (
        _as_float(train, "train", p),
        _as_float(test, "test", p),
        _as_labels(raw_labels, p),
    )


def _check_shapes(
    p: Path, train: np.ndarray, test: np.ndarray, labels: np.ndarray
) -> None:
    for key, arr, ndim in (("train", train, 2), ("test", test, 2)):
        if arr.ndim != ndim:
            raise DataError(
                f"{key} in {str(p)!r} must be 2-D (rows, metrics); got shape "
                f"{arr.shape}."
            )
        if arr.size == 0:
            raise DataError(f"{key} in {str(p)!r} is empty (shape {arr.shape}).")
    if labels.ndim != 1:
        raise DataError(
            f"test_label in {str(p)!r} must be 1-D (one label per test row); "
            f"got shape {labels.shape}."
        )
    if train.shape[1] != test.shape[1]:
        raise DataError(
            f"train and test in {str(p)!r} have different metric counts: "
            f"{train.shape[1]} and {test.shape[1]} columns."
        )
    if labels.shape[0] != test.shape[0]:
        raise DataError(
            f"test_label in {str(p)!r} has {labels.shape[0]} labels but test has "
            f"{test.shape[0]} rows; they must match."
        )


def _as_float(arr: np.ndarray, key: str, p: Path) -> np.ndarray:
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{key} in {str(p)!r} must be numeric; got dtype {arr.dtype}.")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _as_labels(labels: np.ndarray, p: Path) -> np.ndarray:
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == np.bool_):
        raise DataError(
            f"test_label in {str(p)!r} must be numeric 0/1; got dtype {labels.dtype}."
        )
    values = labels.astype(np.float64)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        found = np.unique(values[bad])[:5]
        raise DataError(
            f"test_label in {str(p)!r} must hold only 0 and 1; {int(bad.sum())} "
            f"label(s) are not, e.g. {found.tolist()}."
        )
    return values.astype(np.int8)


def _handle_non_finite(
    arr: np.ndarray, key: str, p: Path, nan_policy: NanPolicy
) -> np.ndarray:
    bad = ~np.isfinite(arr)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return arr
    if nan_policy == "raise":
        raise DataError(
            f"{key} in {str(p)!r} has {n_bad} NaN or infinite value(s) in "
            f"{int(bad.any(axis=1).sum())} row(s); pass nan_policy='ffill' to "
            "forward-fill them."
        )
    logger.info("forward-filled %d non-finite value(s) in %s of %s", n_bad, key, p)
    return _forward_fill(arr, bad)


def _forward_fill(arr: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace flagged cells with the last good value above them, else with 0."""
    rows = np.arange(arr.shape[0])[:, None]
    last_good = np.where(bad, 0, rows)
    np.maximum.accumulate(last_good, axis=0, out=last_good)
    filled = arr[last_good, np.arange(arr.shape[1])]
    # Cells before a column's first good value still point at a bad row 0.
    filled[~np.isfinite(filled)] = 0.0
    return filled


def _read_segments(
    seg_file: Path, labels: np.ndarray, end_inclusive: bool | None
) -> tuple[list[tuple[int, int]], list[tuple[int, ...]]]:
    """Parse an interpretation-label file; return inclusive segments and metrics."""
    raw, metrics = _parse_segment_lines(seg_file)
    truth = labels == 1

    def covers(inclusive: bool) -> bool:
        mask = np.zeros(truth.shape[0] + 1, dtype=bool)
        for start, end in raw:
            mask[start : end + 1 if inclusive else end] = True
        return mask[-1] == 0 and bool(np.array_equal(mask[:-1], truth))

    if end_inclusive is None:
        fits = [inc for inc in (True, False) if covers(inc)]
        if not fits:
            raise DataError(
                f"segments in {str(seg_file)!r} match test_label with neither "
                "inclusive nor exclusive ends; pass segment_end_inclusive=True or "
                "False to choose, or remove the file to derive segments from "
                "test_label."
            )
        end_inclusive = fits[0]
    elif not covers(end_inclusive):
        logger.warning(
            "segments in %s with end_inclusive=%s do not match test_label; "
            "keeping the file's segments",
            seg_file,
            end_inclusive,
        )

    shift = 0 if end_inclusive else 1
    segments = [(start, end - shift) for start, end in raw]
    for start, end in segments:
        if end < start or end >= truth.shape[0]:
            raise DataError(
                f"segment {start}-{end} in {str(seg_file)!r} is empty or beyond "
                f"the {truth.shape[0]} test rows."
            )
    return segments, metrics


def _parse_segment_lines(
    seg_file: Path,
) -> tuple[list[tuple[int, int]], list[tuple[int, ...]]]:
    raw: list[tuple[int, int]] = []
    metrics: list[tuple[int, ...]] = []
    text = seg_file.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SEGMENT_LINE.match(line)
        if match is None:
            raise DataError(
                f"line {lineno} of {str(seg_file)!r} is not 'start-end:d1,d2,...': "
                f"{line!r}."
            )
        raw.append((int(match[1]), int(match[2])))
        dims = [d for d in (match[3] or "").replace(" ", "").split(",") if d]
        metrics.append(tuple(int(d) - 1 for d in dims))
    return raw, metrics
