"""Loader for the Numenta Anomaly Benchmark (NAB) series and label windows.

NAB keeps one ``timestamp,value`` CSV per series under ``data/<category>/`` and
the scoring windows of every series in ``labels/combined_windows.json``::

    { "<category>/<file>.csv": [["start ts", "end ts"], ...], ... }

A window marks every row whose timestamp lies between its start and its end,
both included.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from qnrecovery.data._common import as_existing_path
from qnrecovery.exceptions import ConfigError, DataError

__all__ = [
    "NabSeries",
    "load_nab",
    "load_nab_series",
    "read_nab_rows",
    "read_nab_windows",
]

logger = logging.getLogger(__name__)

Window = tuple[np.datetime64, np.datetime64]
WindowLike = tuple[str | np.datetime64, str | np.datetime64] | Sequence[str]
Dedupe = Literal["first", "last"]

#: A step longer than this many median steps is reported as a gap.
GAP_FACTOR = 3.0


@dataclass(eq=False)
class NabSeries:
    """One NAB series with its anomaly windows.

    Attributes
    ----------
    name : str
        ``"<category>/<file>.csv"``, the key NAB's label files use.
    timestamps : ndarray of datetime64[s]
        Strictly increasing row times.
    values : ndarray of float64
        One value per row.
    windows : list of tuple of datetime64
        Anomaly windows ``(start, end)``, both ends inclusive.
    labels : ndarray of int8
        1 for rows inside a window, else 0.
    gaps : list of tuple of datetime64
        ``(before, after)`` timestamps of every step longer than
        ``GAP_FACTOR`` (3) times the median step. Gaps are reported, not filled.
    source : str
        Path of the CSV file.
    """

    name: str
    timestamps: np.ndarray
    values: np.ndarray
    windows: list[Window]
    labels: np.ndarray
    gaps: list[Window] = field(default_factory=list)
    source: str = ""

    @property
    def interval_s(self) -> float:
        """Median time between consecutive rows, in seconds (0 for one row)."""
        if self.timestamps.shape[0] < 2:
            return 0.0
        steps = np.diff(self.timestamps).astype("timedelta64[s]").astype(np.float64)
        return float(np.median(steps))

    def __repr__(self) -> str:
        return (
            f"NabSeries(name={self.name!r}, rows={self.values.shape[0]}, "
            f"windows={len(self.windows)}, gaps={len(self.gaps)})"
        )


def load_nab_series(
    csv_path: str | os.PathLike[str],
    windows: Sequence[WindowLike] | None = None,
    *,
    name: str | None = None,
    sort: bool = False,
    dedupe: Dedupe | None = None,
) -> NabSeries:
    """Load one NAB CSV file.

    Parameters
    ----------
    csv_path : str or os.PathLike
        CSV with a header holding ``timestamp`` and ``value`` columns (other
        columns are ignored); timestamps like ``"2014-07-01 00:00:00"``.
    windows : sequence of (start, end), optional
        Anomaly windows as timestamp strings or ``datetime64``; none by default.
    name : str, optional
        Series name; by default ``"<parent folder>/<file name>"``.
    sort : bool, default=False
        Sort rows by timestamp (stable). When False, rows out of time order
        raise :class:`DataError`.
    dedupe : {"first", "last"}, optional
        Keep the first or the last row of each repeated timestamp (in file
        order). When None, a repeated timestamp raises :class:`DataError`.

    Returns
    -------
    NabSeries
        Rows in time order, labels from the windows, and the detected gaps.

    Raises
    ------
    DataError
        If the file is missing or empty, lacks a ``timestamp`` or ``value``
        column, holds a timestamp or value that cannot be parsed or a value that
        is not finite, or has unsorted or repeated timestamps that ``sort`` and
        ``dedupe`` do not allow.
    ConfigError
        If ``dedupe`` is not None, "first" or "last".
    """
    if dedupe not in (None, "first", "last"):
        raise ConfigError(
            f"dedupe of load_nab_series must be None, 'first' or 'last'; "
            f"got {dedupe!r}."
        )
    p = as_existing_path(csv_path, "NAB file")
    stamps, values = _read_csv(p)
    stamps, values = _order_rows(p, stamps, values, sort=sort, dedupe=dedupe)

    parsed = [_parse_window(w, p) for w in (windows or [])]
    labels = np.zeros(stamps.shape[0], dtype=np.int8)
    for start, end in parsed:
        labels[(stamps >= start) & (stamps <= end)] = 1

    return NabSeries(
        name=name or f"{p.parent.name}/{p.name}",
        timestamps=stamps,
        values=values,
        windows=parsed,
        labels=labels,
        gaps=_find_gaps(stamps),
        source=str(p),
    )


def read_nab_windows(path: str | os.PathLike[str]) -> dict[str, list[list[str]]]:
    """Read a NAB ``combined_windows.json`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file.

    Returns
    -------
    dict
        ``{"<category>/<file>.csv": [[start, end], ...]}``.

    Raises
    ------
    DataError
        If the file is missing, not JSON, or not in NAB's layout.
    """
    p = as_existing_path(path, "NAB label file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{str(p)!r} is not valid JSON: {err}") from err
    layout_ok = isinstance(data, dict) and all(
        isinstance(v, list) and all(isinstance(w, list) and len(w) == 2 for w in v)
        for v in data.values()
    )
    if not layout_ok:
        raise DataError(
            f"{str(p)!r} is not in NAB's layout "
            '{"<category>/<file>.csv": [["start", "end"], ...]}.'
        )
    return data


def load_nab(
    path: str | os.PathLike[str],
    *,
    sort: bool = False,
    dedupe: Dedupe | None = None,
) -> list[NabSeries]:
    """Load NAB series with their windows from a NAB root folder or one CSV.

    Parameters
    ----------
    path : str or os.PathLike
        NAB's root folder (holding ``data/<category>/*.csv`` and
        ``labels/combined_windows.json``), or one CSV inside such a tree, whose
        labels are looked up in ``../../labels/combined_windows.json`` relative
        to the CSV's folder. A series without a label file or without an entry
        in it gets no windows, and a warning is logged.
    sort, dedupe
        Passed to :func:`load_nab_series`.

    Returns
    -------
    list of NabSeries
        One per CSV, ordered by name.

    Raises
    ------
    DataError
        If the path does not exist, a root folder holds no CSV under ``data/``,
        or any file fails to load.
    """
    p = as_existing_path(path, "NAB path")
    if p.is_dir():
        data_dir = p / "data"
        files = sorted(data_dir.glob("*/*.csv")) if data_dir.is_dir() else []
        if not files:
            raise DataError(
                f"{str(p)!r} is not a NAB root: no data/<category>/*.csv files "
                "found; pass NAB's root folder or one CSV file."
            )
        root = p
    else:
        files = [p]
        root = p.parent.parent.parent

    label_file = root / "labels" / "combined_windows.json"
    all_windows: dict[str, list[list[str]]] | None = None
    if label_file.is_file():
        all_windows = read_nab_windows(label_file)
    else:
        logger.warning("no NAB label file at %s; series get no windows", label_file)

    series = []
    for f in files:
        key = f"{f.parent.name}/{f.name}"
        windows = None
        if all_windows is not None:
            windows = all_windows.get(key)
            if windows is None:
                logger.warning("%s has no entry in %s; no windows", key, label_file)
        series.append(load_nab_series(f, windows, sort=sort, dedupe=dedupe))
    return series


def read_nab_rows(csv_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and values of a NAB CSV in file order, as NAB's scorer reads them.

    Unlike :func:`load_nab_series`, rows are neither sorted nor de-duplicated
    (two NAB files have a repeated or out-of-order timestamp), so the rows
    line up with NAB's own result files.

    Raises
    ------
    DataError
        If the file is missing, empty, or holds an unparsable or non-finite
        entry.
    """
    return _read_csv(as_existing_path(csv_path, "NAB file"))


def _read_csv(p: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the timestamp and value columns of a NAB CSV."""
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read NAB file {str(p)!r}: {err}") from err
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"NAB file {str(p)!r} is empty; expected a header row.")

    header = [c.strip().lower() for c in rows[0]]
    missing = [c for c in ("timestamp", "value") if c not in header]
    if missing:
        raise DataError(
            f"NAB file {str(p)!r} lacks the column(s) {', '.join(missing)}; "
            f"header is {rows[0]}."
        )
    if len(rows) == 1:
        raise DataError(f"NAB file {str(p)!r} has a header but no data rows.")
    i_ts, i_val = header.index("timestamp"), header.index("value")
    body = rows[1:]
    if any(len(r) <= max(i_ts, i_val) for r in body):
        line = next(n for n, r in enumerate(body, 2) if len(r) <= max(i_ts, i_val))
        raise DataError(f"row {line} of NAB file {str(p)!r} has too few fields.")

    return (
        _parse_stamps([r[i_ts] for r in body], p),
        _parse_values([r[i_val] for r in body], p),
    )


def _parse_stamps(texts: list[str], p: Path) -> np.ndarray:
    try:
        stamps = np.array([t.strip() for t in texts], dtype="datetime64[s]")
    except ValueError:
        stamps = None
    if stamps is not None and not np.isnat(stamps).any():
        return stamps
    # Name the first bad row; "" and "NaT" parse as NaT, so they count as bad.
    bad = next(i for i, t in enumerate(texts) if not _is_timestamp(t))
    raise DataError(
        f"row {bad + 2} of NAB file {str(p)!r} has an unparseable timestamp "
        f"{texts[bad]!r}; expected 'YYYY-MM-DD HH:MM:SS'."
    )


def _is_timestamp(text: str) -> bool:
    try:
        return not np.isnat(np.datetime64(text.strip(), "s"))
    except ValueError:
        return False


def _parse_values(texts: list[str], p: Path) -> np.ndarray:
    values = np.empty(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        try:
            values[i] = float(text)
        except ValueError as err:
            raise DataError(
                f"row {i + 2} of NAB file {str(p)!r} has an unparseable value "
                f"{text!r}; expected a number."
            ) from err
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"NAB file {str(p)!r} has {int(bad.sum())} NaN or infinite value(s), "
            f"first in row {int(np.flatnonzero(bad)[0]) + 2}."
        )
    return values


def _order_rows(
    p: Path,
    stamps: np.ndarray,
    values: np.ndarray,
    *,
    sort: bool,
    dedupe: Dedupe | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Check time order and repeats; sort and dedupe when asked."""
    steps = np.diff(stamps)
    zero = np.timedelta64(0, "s")
    if (steps < zero).any():
        if not sort:
            row = int(np.flatnonzero(steps < zero)[0]) + 3
            raise DataError(
                f"timestamps of NAB file {str(p)!r} are not in order (first at "
                f"row {row}); pass sort=True to sort them."
            )
        order = np.argsort(stamps, kind="stable")
        stamps, values = stamps[order], values[order]
        steps = np.diff(stamps)

    repeated = steps == zero
    if repeated.any():
        if dedupe is None:
            raise DataError(
                f"NAB file {str(p)!r} has {int(repeated.sum())} repeated "
                f"timestamp(s), e.g. {stamps[1:][repeated][0]}; pass "
                "dedupe='first' or dedupe='last' to keep one row of each."
            )
        keep = np.ones(stamps.shape[0], dtype=bool)
        if dedupe == "last":
            keep[:-1] = ~repeated
        else:
            keep[1:] = ~repeated
        logger.info("dropped %d repeated timestamp(s) in %s", int((~keep).sum()), p)
        stamps, values = stamps[keep], values[keep]
    return stamps, values


def _parse_window(window: WindowLike, p: Path) -> Window:
    try:
        start, end = window
        parsed = (_to_seconds(start), _to_seconds(end))
    except (TypeError, ValueError) as err:
        raise DataError(
            f"window {window!r} for {str(p)!r} is not a (start, end) pair of "
            "timestamps."
        ) from err
    if parsed[1] < parsed[0]:
        raise DataError(f"window {window!r} for {str(p)!r} ends before it starts.")
    return parsed


def _to_seconds(stamp: str | np.datetime64) -> np.datetime64:
    # NAB writes "2014-10-30 15:30:00.000000"; sub-second digits are dropped.
    parsed = np.datetime64(stamp).astype("datetime64[s]")
    if np.isnat(parsed):
        raise ValueError("NaT is not a timestamp")
    return parsed


def _find_gaps(stamps: np.ndarray) -> list[Window]:
    if stamps.shape[0] < 3:
        return []
    steps = np.diff(stamps)
    limit = GAP_FACTOR * np.median(steps.astype(np.int64))
    idx = np.flatnonzero(steps.astype(np.int64) > limit)
    return [(stamps[i], stamps[i + 1]) for i in idx]
