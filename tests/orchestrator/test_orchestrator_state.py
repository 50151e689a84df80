"""The recovery-state cache: memory level, SQLite level, reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qnrecovery.exceptions import DataError
from qnrecovery.orchestrator.state import StateCache


def test_state_survives_reopening_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    cache = StateCache(path)
    cache.put_component("kv", {"tier": "critical", "epoch": 1})
    cache.put_component("kv", {"tier": "critical", "epoch": 4})
    for seq in (3, 10, 7):
        cache.add_snapshot("kv", {"path": f"/s/{seq}", "seq": seq, "crc": "x"})
    cache.remove_snapshot("kv", "/s/7")
    assert [s["seq"] for s in cache.snapshots("kv")] == [10, 3]
    # Not closed: a crashed orchestrator does not close its file either.

    again = StateCache(path)
    assert again.component("kv") == {"tier": "critical", "epoch": 4}
    assert [s["seq"] for s in again.snapshots("kv")] == [10, 3]
    assert again.snapshots("other") == [] and again.component("other") is None
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again.close()
    cache.close()


def test_memory_level_answers_without_a_file() -> None:
    cache = StateCache(None)
    body = {"epoch": 2, "standbys": {"hot": "kv.hot1"}}
    cache.put_component("kv", body)
    body["epoch"] = 99  # the cache keeps its own copy
    assert cache.components() == {"kv": {"epoch": 2, "standbys": {"hot": "kv.hot1"}}}


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match=r"cannot be used.*move it away"):
        StateCache(path)
