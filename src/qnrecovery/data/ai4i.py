"""Loader for the AI4I 2020 predictive-maintenance table (UCI data set 601)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qnrecovery.data._common import as_existing_path
from qnrecovery.exceptions import DataError

__all__ = ["AI4I_FEATURES", "AI4I_MODES", "AI4I_TYPE_CODES", "Ai4iData", "load_ai4i"]

#: Feature columns of ``Ai4iData.X``, in order ("Type" is encoded).
AI4I_FEATURES = (
    "Type",
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
)
#: Failure-mode flag columns.
AI4I_MODES = ("TWF", "HDF", "PWF", "OSF", "RNF")
#: Encoding of the product quality variant in column 0 of ``X``.
AI4I_TYPE_CODES = {"L": 0.0, "M": 1.0, "H": 2.0}
_TARGET = "Machine failure"


@dataclass(eq=False)
class Ai4iData:
    """The AI4I 2020 table as arrays.

    Attributes
    ----------
    X : ndarray of shape (n, 6), float64
        Columns as in ``feature_names``; ``Type`` encoded L=0, M=1, H=2.
    y : ndarray of shape (n,), int8
        The ``Machine failure`` label (1 = failure).
    feature_names : list of str
        Names of the columns of ``X``.
    modes : dict of str to ndarray of int8
        The failure-mode flags TWF, HDF, PWF, OSF and RNF. A row may have
        several; in the original table a few failures have none and a few
        flagged rows are not failures.
    source : str
        Path of the CSV file.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    modes: dict[str, np.ndarray]
    source: str = ""

    def __repr__(self) -> str:
        return f"Ai4iData(n={self.X.shape[0]}, failures={int(self.y.sum())})"


def load_ai4i(path: str | os.PathLike[str]) -> Ai4iData:
    """Load the AI4I 2020 CSV (comma-separated, with the UCI header).

    Parameters
    ----------
    path : str or os.PathLike
        The ``ai4i2020.csv`` file. Extra columns (``UDI``, ``Product ID``) are
        ignored.

    Returns
    -------
    Ai4iData
        Features, failure label and failure-mode flags.

    Raises
    ------
    DataError
        If the file is missing or empty, lacks a required column (all missing
        ones are named), has an unknown ``Type``, a non-numeric or non-finite
        feature, or a label or flag that is not 0 or 1.
    """
    p = as_existing_path(path, "AI4I file")
    header, body = _read_rows(p)
    required = (*AI4I_FEATURES, _TARGET, *AI4I_MODES)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"AI4I file {str(p)!r} lacks the column(s) {', '.join(missing)}; "
            "expected the UCI ai4i2020.csv header."
        )
    col = {name: header.index(name) for name in required}

    X = np.empty((len(body), len(AI4I_FEATURES)), dtype=np.float64)
    X[:, 0] = _encode_types([r[col["Type"]] for r in body], p)
    for j, name in enumerate(AI4I_FEATURES[1:], start=1):
        X[:, j] = _numbers([r[col[name]] for r in body], name, p)

    flags = {
        name: _flags([r[col[name]] for r in body], name, p)
        for name in (_TARGET, *AI4I_MODES)
    }
    y = flags.pop(_TARGET)
    return Ai4iData(
        X=X, y=y, feature_names=list(AI4I_FEATURES), modes=flags, source=str(p)
    )


def _read_rows(p: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read AI4I file {str(p)!r}: {err}") from err
    if len(rows) < 2:
        raise DataError(
            f"AI4I file {str(p)!r} is empty; expected a header and data rows."
        )
    header = [c.strip() for c in rows[0]]
    short = [n for n, r in enumerate(rows[1:], start=2) if len(r) != len(header)]
    if short:
        raise DataError(
            f"row {short[0]} of AI4I file {str(p)!r} has a different number of "
            f"fields than the header ({len(header)})."
        )
    return header, rows[1:]


def _encode_types(texts: list[str], p: Path) -> np.ndarray:
    unknown = sorted({t.strip() for t in texts} - AI4I_TYPE_CODES.keys())
    if unknown:
        raise DataError(
            f"column Type of AI4I file {str(p)!r} must be L, M or H; found "
            f"{unknown[:5]}."
        )
    return np.array([AI4I_TYPE_CODES[t.strip()] for t in texts], dtype=np.float64)


def _numbers(texts: list[str], name: str, p: Path) -> np.ndarray:
    try:
        values = np.array([float(t) for t in texts], dtype=np.float64)
    except ValueError as err:
        raise DataError(
            f"column {name!r} of AI4I file {str(p)!r} holds a non-number: {err}"
        ) from err
    if not np.isfinite(values).all():
        raise DataError(
            f"column {name!r} of AI4I file {str(p)!r} holds NaN or infinite values."
        )
    return values


def _flags(texts: list[str], name: str, p: Path) -> np.ndarray:
    values = _numbers(texts, name, p)
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError(
            f"column {name!r} of AI4I file {str(p)!r} must hold only 0 and 1."
        )
    return values.astype(np.int8)
