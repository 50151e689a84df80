"""Tests of the AI4I 2020 loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.data import AI4I_FEATURES, AI4I_MODES, Ai4iData, load_ai4i
from qnrecovery.exceptions import DataError

HEADER = (
    "UDI,Product ID,Type,Air temperature [K],Process temperature [K],"
    "Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,"
    "TWF,HDF,PWF,OSF,RNF"
)
ROWS = [
    "1,M14860,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0",
    "2,L47181,L,298.2,308.7,1408,46.3,3,1,0,1,0,0,0",
    "3,H29424,H,298.3,308.7,1498,49.4,5,0,0,0,0,0,1",
]


def write(tmp_path: Path, header: str = HEADER, rows: list[str] = ROWS) -> Path:
    path = tmp_path / "ai4i.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_real_table(shared_file: Callable[..., Path]) -> None:
    data = load_ai4i(shared_file("ai4i2020", "ai4i2020.csv"))
    assert isinstance(data, Ai4iData)
    assert data.X.shape == (10000, 6) and data.X.dtype == np.float64
    assert data.y.dtype == np.int8 and int(data.y.sum()) == 339
    assert data.feature_names == list(AI4I_FEATURES)
    counts = {k: int(v.sum()) for k, v in data.modes.items()}
    assert counts == {"TWF": 46, "HDF": 115, "PWF": 95, "OSF": 98, "RNF": 19}
    types, n = np.unique(data.X[:, 0], return_counts=True)
    assert dict(zip(types.tolist(), n.tolist(), strict=True)) == {
        0.0: 6000,
        1.0: 2997,
        2.0: 1003,
    }
    assert data.X[0].tolist() == [1.0, 298.1, 308.6, 1551.0, 42.8, 0.0]


def test_small_table(tmp_path: Path) -> None:
    data = load_ai4i(write(tmp_path))
    assert data.X[:, 0].tolist() == [1.0, 0.0, 2.0]
    assert data.y.tolist() == [0, 1, 0]
    assert set(data.modes) == set(AI4I_MODES)
    assert data.modes["HDF"].tolist() == [0, 1, 0]


def test_missing_columns_named(tmp_path: Path) -> None:
    header = HEADER.replace("Torque [Nm]", "Torque").replace(",RNF", ",Other")
    with pytest.raises(DataError, match=r"lacks the column\(s\) Torque \[Nm\], RNF"):
        load_ai4i(write(tmp_path, header=header))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_ai4i(tmp_path / "none.csv")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is empty"):
        load_ai4i(write(tmp_path, rows=[]))


@pytest.mark.parametrize(
    ("row", "pattern"),
    [
        ("4,X1,X,298,308,1500,40,1,0,0,0,0,0,0", "Type .* must be L, M or H"),
        ("4,L1,L,hot,308,1500,40,1,0,0,0,0,0,0", "'Air temperature \\[K\\]' .* non"),
        ("4,L1,L,298,308,1500,nan,1,0,0,0,0,0,0", "'Torque \\[Nm\\]' .* NaN"),
        ("4,L1,L,298,308,1500,40,1,2,0,0,0,0,0", "'Machine failure' .* 0 and 1"),
        ("4,L1,L,298,308,1500,40,1,0,0,0,0,0", "row 5 .* number of fields"),
    ],
)
def test_bad_rows(tmp_path: Path, row: str, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        load_ai4i(write(tmp_path, rows=[*ROWS, row]))
