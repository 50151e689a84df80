"""Helpers shared by the data loaders (private)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qnrecovery.exceptions import DataError

__all__ = ["as_existing_path", "label_runs"]


def as_existing_path(path: str | os.PathLike[str], what: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, or raise if it does not exist.

    Parameters
    ----------
    path : str or os.PathLike
        The path given by the caller.
    what : str, default="path"
        Word used in the error message ("ASD/SMD file", "NAB root", ...).

    Returns
    -------
    pathlib.Path
        The path, with ``~`` expanded.

    Raises
    ------
    DataError
        If nothing exists at ``path``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what} {str(p)!r} does not exist; check the path.")
    return p


def label_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of ``labels == 1`` as 0-based inclusive ``(start, end)``.

    Parameters
    ----------
    labels : ndarray of shape (T,)
        0/1 labels.

    Returns
    -------
    list of tuple of int
        One ``(start, end)`` pair per run, both ends inclusive, in order.
    """
    mask = np.asarray(labels) == 1
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]
