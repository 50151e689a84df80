"""Fixtures shared by every test: access to the shared real data sets.

A missing data set fails a test when ``CI=true`` and skips it elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# tests/conftest.py -> parents[2] is the folder that holds the checkout,
# beside which the project keeps ``shared/data``.
_DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _missing(what: str) -> None:
    """Fail on CI (CI=true), skip elsewhere."""
    message = f"real data not found: {what} (set QNRECOVERY_SHARED_DATA)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real data, ``$QNRECOVERY_SHARED_DATA`` if set."""
    root = Path(os.environ.get("QNRECOVERY_SHARED_DATA", _DEFAULT_SHARED_DATA))
    if not root.is_dir():
        _missing(str(root))
    return root


@pytest.fixture
def shared_file(shared_data: Path) -> Callable[..., Path]:
    """Return a function mapping path parts to a shared file that must exist."""

    def get(*parts: str) -> Path:
        path = shared_data.joinpath(*parts)
        if not path.exists():
            _missing(str(path))
        return path

    return get
