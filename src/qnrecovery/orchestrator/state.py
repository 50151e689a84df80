"""The recovery-state cache: what the orchestrator must not forget.

Two levels: an in-memory level that every read is served from, and an
on-disk level, an SQLite database in WAL mode, that every write goes through
to before it returns. A restarted orchestrator opens the same file and finds
each component's tier, epoch, workers and snapshots again
(:meth:`qnrecovery.orchestrator.engine.Orchestrator.resume`).

Each commit is atomic; with ``synchronous=NORMAL`` in WAL mode a commit
survives a crash of the orchestrator process (what a restart needs), though
not necessarily a power cut of the host, which would also end the workers.

Examples
--------
>>> from qnrecovery.orchestrator.state import StateCache
>>> cache = StateCache(None)  # memory only
>>> cache.put_component("kv", {"tier": "critical", "epoch": 3})
>>> cache.component("kv")["epoch"]
3
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from qnrecovery.exceptions import DataError

__all__ = ["StateCache"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS components (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    component TEXT NOT NULL,
    path TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (component, path)
);
"""


class StateCache:
    """Components and snapshots, in memory and in an SQLite file.

    Parameters
    ----------
    path : Path or None
        Database file; ``None`` keeps the memory level only.

    Raises
    ------
    DataError
        If the file exists but is not a database this class wrote.
    """

    def __init__(self, path: Path | str | None) -> None:
        self.path = None if path is None else Path(path)
        self._components: dict[str, dict[str, Any]] = {}
        self._snapshots: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self._open(self.path)

    def _open(self, path: Path) -> None:
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            components = db.execute("SELECT name, body FROM components").fetchall()
            snaps = db.execute(
                "SELECT component, body FROM snapshots ORDER BY seq DESC, path DESC"
            ).fetchall()
        except sqlite3.DatabaseError as err:
            raise DataError(
                f"recovery-state file {path} cannot be used ({err}); move it "
                "away to start with an empty state"
            ) from err
        if str(mode).lower() != "wal":
            logger.warning("%s: journal mode is %s, not WAL", path, mode)
        self._db = db
        for name, body in components:
            self._components[name] = json.loads(body)
        for component, body in snaps:
            self._snapshots.setdefault(component, []).append(json.loads(body))

    # -- components -----------------------------------------------------------

    def put_component(self, name: str, body: dict[str, Any]) -> None:
        """Store a component's record (replacing the previous one)."""
        text = json.dumps(body, sort_keys=True)
        with self._lock:
            self._components[name] = json.loads(text)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO components (name, body) VALUES (?, ?)",
                    (name, text),
                )

    def component(self, name: str) -> dict[str, Any] | None:
        """A component's record, from memory."""
        body = self._components.get(name)
        return None if body is None else dict(body)

    def components(self) -> dict[str, dict[str, Any]]:
        """Every component's record, from memory."""
        return {name: dict(body) for name, body in self._components.items()}

    # -- snapshots ------------------------------------------------------------

    def add_snapshot(self, component: str, info: dict[str, Any]) -> None:
        """Record a snapshot file ``info = {path, seq, epoch, crc, ...}``."""
        text = json.dumps(info, sort_keys=True)
        with self._lock:
            snaps = self._snapshots.setdefault(component, [])
            snaps.insert(0, json.loads(text))
            snaps.sort(key=lambda s: (int(s["seq"]), str(s["path"])), reverse=True)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO snapshots (component, path, seq, body) "
                    "VALUES (?, ?, ?, ?)",
                    (component, str(info["path"]), int(info["seq"]), text),
                )

    def snapshots(self, component: str) -> list[dict[str, Any]]:
        """A component's snapshots, newest first, from memory."""
        return [dict(s) for s in self._snapshots.get(component, [])]

    def remove_snapshot(self, component: str, path: str) -> None:
        """Forget one snapshot file (the file itself is the caller's)."""
        with self._lock:
            snaps = self._snapshots.get(component, [])
            self._snapshots[component] = [s for s in snaps if s["path"] != path]
            if self._db is not None:
                self._db.execute(
                    "DELETE FROM snapshots WHERE component = ? AND path = ?",
                    (component, path),
                )

    def close(self) -> None:
        """Close the database; the memory level stays readable."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
