"""A worker of the reference workload: one process holding a replicated key-value map.

Run it as::

    python -m qnrecovery.runtime.worker --name kv-a --role primary --epoch 1

It listens on 127.0.0.1 (``--port 0``, the default, lets the system choose),
prints exactly one line ``READY <port>`` on stdout and then serves the
operations of :mod:`qnrecovery.runtime.protocol`:

``ping [lease_until]``
    ``{ok, name, role, epoch, seq, fenced, standbys, lost_hot}``; never waits
    for a write. ``lost_hot`` lists the ports of hot standbys this primary
    lost (see below). With
    ``lease_until`` (a ``time.monotonic()`` value of the sender, the same
    clock on one host) a primary's lease is extended to that time.
``slow {delay}``
    Fault injection: every later request waits ``delay`` seconds before it is
    handled (0 ends it). Never delayed itself.
``put {key, value, epoch}``
    Primary only, and only when ``epoch`` equals the worker's epoch. The write
    gets the next sequence number and is applied by every attached hot standby
    before the primary applies it and replies ``{ok, seq, epoch, name}``;
    attached warm standbys receive it later from a background shipper. A
    write refused after it was replicated (superseded, lease run out, a hot
    standby lost) keeps its sequence number and stays applied,
    unacknowledged, so the standbys stay in step.
``get {key, epoch[, standby]}``
    Primary only, fenced by epoch like ``put``; ``{ok, value, name, epoch}``.
    With ``standby: true`` a hot standby of that epoch answers too (a drained
    component's reads); it holds every acknowledged write.
``replicate {seq, key, value, epoch, crc}``
    Standby only: checks the checksum and the epoch, applies records in
    sequence order; ``{ok, seq}``.
``install {snapshot: {data, seq, epoch, crc}}``
    Standby only: checks the checksum and replaces the state.
``attach {kind, port[, interval]}``
    Primary only: installs a snapshot on the standby at ``port`` and streams
    every later write to it (``hot``: synchronously; ``warm``: every
    ``interval`` seconds). Snapshot and registration happen under the lock
    that orders writes, so no write falls between them.
``detach {port}``
    Primary only: stops feeding the standby on ``port`` and forgets that it
    was lost; ``{ok, detached, was_lost}``.
``promote {epoch[, lease_until]}``
    Standby only: becomes primary with a greater epoch; ``{ok, epoch, seq}``.
``snapshot {path}``
    Writes ``{data, seq, epoch, crc}`` to ``path`` atomically.
``dump``
    ``{ok, data, seq, epoch}``.

A primary learns that it was superseded when a hot standby refuses its
replication with ``stale-epoch``; from then on it refuses reads and writes.
A primary that holds a lease (``--lease``, a ``promote`` or a ``ping`` with
``lease_until``) also refuses reads and writes with ``lease-expired`` once the
lease ran out without renewal, so a primary that was paused (SIGSTOP) and wakes up
after its standby took over cannot acknowledge anything: the orchestrator
promotes a standby of a live primary only after that primary's lease expired.

A hot standby that does not acknowledge a record within ``--hot-timeout``
seconds (or cannot be reached, or refuses it other than with ``stale-epoch``)
is detached and remembered as *lost*: the write that found it so, and every
later ``put``, is refused with the retryable ``hot-standby-lost`` until the
orchestrator has dropped that standby and says so with ``detach {port}`` (or
re-attaches it with ``attach``). The orchestrator still counts the lost
standby as the component's hot standby and would promote it if this primary
failed, so acknowledging writes without it could lose them; the pings report
the lost ports so the orchestrator can replace it.

Started with ``--snapshot PATH``, the worker begins from that snapshot (a cold
standby); an unreadable or corrupt file ends it with exit code 3. SIGTERM and
SIGINT end it cleanly with exit code 0.

This module imports the standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from qnrecovery.exceptions import DataError, RuntimeFailure
from qnrecovery.runtime.protocol import (
    HOST,
    LINE_LIMIT,
    Connection,
    checksum,
    error_reply,
    serve_lines,
)

__all__ = [
    "ROLES",
    "Worker",
    "load_snapshot",
    "main",
    "make_snapshot",
    "write_snapshot",
]

logger = logging.getLogger(__name__)

#: Roles a worker can start in.
ROLES = ("primary", "hot", "warm")

#: Exit code for a snapshot that cannot be read or fails its checksum.
EXIT_BAD_SNAPSHOT = 3

#: Exit code for a port that cannot be bound.
EXIT_PORT_IN_USE = 4

Reply = dict[str, Any]


def make_snapshot(data: dict[str, Any], seq: int, epoch: int) -> dict[str, Any]:
    """Build a checksummed snapshot.

    Parameters
    ----------
    data : dict
        The key-value state.
    seq : int
        Number of writes the state contains.
    epoch : int
        Epoch of the primary that produced it.

    Returns
    -------
    dict
        ``{data, seq, epoch, crc}``.
    """
    body = {"data": data, "seq": seq, "epoch": epoch}
    return {**body, "crc": checksum(body)}


def verify_snapshot(snap: Any) -> dict[str, Any]:
    """Check a snapshot's shape and checksum.

    Parameters
    ----------
    snap : Any
        A decoded snapshot.

    Returns
    -------
    dict
        The same snapshot.

    Raises
    ------
    DataError
        If a field is missing or the checksum does not match.
    """
    if not isinstance(snap, dict) or not {"data", "seq", "epoch", "crc"} <= set(snap):
        fields = sorted(snap) if isinstance(snap, dict) else []
        raise DataError(
            "a snapshot must be an object with fields data, seq, epoch and crc; "
            f"got a {type(snap).__name__} with fields {fields}"
        )
    body = {"data": snap["data"], "seq": snap["seq"], "epoch": snap["epoch"]}
    if checksum(body) != snap["crc"]:
        raise DataError(
            f"snapshot checksum mismatch: stored {snap['crc']!r}, computed "
            f"{checksum(body)!r}; the snapshot is corrupt, take a fresh one"
        )
    return snap


def load_snapshot(path: str) -> dict[str, Any]:
    """Read and verify a snapshot file.

    Parameters
    ----------
    path : str
        File written by :func:`write_snapshot`.

    Returns
    -------
    dict
        The verified snapshot ``{data, seq, epoch, crc}``.

    Raises
    ------
    DataError
        If the file cannot be read, is not JSON, or fails its checksum.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            snap = json.load(fh)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read snapshot {path!r}: {err}") from err
    try:
        return verify_snapshot(snap)
    except DataError as err:
        raise DataError(f"snapshot {path!r}: {err}") from err


def write_snapshot(path: str, snap: dict[str, Any]) -> None:
    """Write a snapshot atomically: temporary file, fsync, rename.

    Parameters
    ----------
    path : str
        Destination; its folder must exist.
    snap : dict
        Snapshot from :func:`make_snapshot`.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".snapshot-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(snap, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _record_crc(rec: dict[str, Any]) -> str:
    return checksum(
        {
            "seq": rec["seq"],
            "key": rec["key"],
            "value": rec["value"],
            "epoch": rec["epoch"],
        }
    )


@dataclass
class _Standby:
    """A standby attached to this primary."""

    kind: str
    port: int
    conn: Connection
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class Worker:
    """State and request handlers of one worker process.

    Parameters
    ----------
    name : str
        Worker name, echoed in replies.
    role : {"primary", "hot", "warm"}
        Starting role.
    epoch : int
        Starting epoch.
    hot_timeout : float, default=1.0
        Seconds a primary waits for a hot standby's acknowledgement before it
        detaches that standby and refuses writes until the orchestrator
        dropped it (``detach``) or re-attached it.
    """

    def __init__(
        self, name: str, role: str, epoch: int, *, hot_timeout: float = 1.0
    ) -> None:
        self.name = name
        self.role = role
        self.epoch = epoch
        self.hot_timeout = hot_timeout
        self.data: dict[str, Any] = {}
        self.seq = 0
        self.fenced = False
        self.delay = 0.0
        self.lease_until: float | None = None
        self._standbys: list[_Standby] = []
        # Port -> why, of hot standbys detached because they failed; writes
        # are refused until the orchestrator forgets them with ``detach``.
        self._lost_hot: dict[int, str] = {}
        self._write_lock = asyncio.Lock()
        self._handlers = {
            "ping": self._ping,
            "put": self._put,
            "get": self._get,
            "replicate": self._replicate,
            "install": self._install,
            "attach": self._attach,
            "detach": self._detach_op,
            "promote": self._promote,
            "snapshot": self._snapshot,
            "dump": self._dump,
            "slow": self._slow,
        }

    def grant_lease(self, until: float) -> None:
        """Extend the primary's lease to ``time.monotonic()`` value `until`."""
        self.lease_until = max(until, self.lease_until or until)

    def lease_expired(self) -> bool:
        """Whether a lease was granted and ran out without renewal."""
        return self.lease_until is not None and time.monotonic() > self.lease_until

    def restore(self, snap: dict[str, Any]) -> None:
        """Replace the state with a verified snapshot."""
        self.data = dict(snap["data"])
        self.seq = int(snap["seq"])
        self.epoch = max(self.epoch, int(snap["epoch"]))

    async def handle(self, msg: dict[str, Any]) -> Reply:
        """Answer one request."""
        handler = self._handlers.get(msg.get("op"))  # type: ignore[arg-type]
        if handler is None:
            return error_reply(
                "unknown-op",
                f"unknown op {msg.get('op')!r}; expected one of "
                f"{sorted(self._handlers)}",
            )
        if self.delay > 0 and handler != self._slow:
            await asyncio.sleep(self.delay)
        try:
            return await handler(msg)
        except (KeyError, TypeError, ValueError) as err:
            return error_reply(
                "bad-request", f"malformed {msg.get('op')!r} request: {err!r}"
            )

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one connection until the peer closes it."""
        await serve_lines(reader, writer, self.handle)

    # -- checks ---------------------------------------------------------------

    def _primary_check(self, msg: dict[str, Any]) -> Reply | None:
        if self.role != "primary":
            return error_reply(
                "not-primary",
                f"worker {self.name!r} is a {self.role} standby; send "
                f"{msg['op']!r} to the primary",
            )
        epoch = msg["epoch"]
        if self.fenced or epoch > self.epoch:
            return error_reply(
                "stale-epoch",
                f"worker {self.name!r} is a primary of epoch {self.epoch}, which "
                f"was superseded (request epoch {epoch}); route to the new primary",
            )
        if epoch < self.epoch:
            return error_reply(
                "stale-epoch",
                f"request epoch {epoch} is older than worker {self.name!r}'s "
                f"epoch {self.epoch}; refresh the route",
            )
        return self._lease_check(msg["op"])

    def _lost_hot_check(self, what: str) -> Reply | None:
        if not self._lost_hot:
            return None
        lost = ", ".join(f"{p} ({why})" for p, why in sorted(self._lost_hot.items()))
        return error_reply(
            "hot-standby-lost",
            f"worker {self.name!r} (epoch {self.epoch}) refuses {what}: it lost "
            f"its hot standby on port {lost}; retry once the orchestrator has "
            "replaced that standby",
        )

    def _lease_check(self, op: str) -> Reply | None:
        if self.lease_expired():
            return error_reply(
                "lease-expired",
                f"worker {self.name!r} (epoch {self.epoch}) refuses {op!r}: its "
                "lease ran out without renewal, so a standby may have taken "
                "over; retry on the current primary",
            )
        return None

    def _standby_check(self, op: str, epoch: int) -> Reply | None:
        if epoch < self.epoch:
            return error_reply(
                "stale-epoch",
                f"{op!r} of epoch {epoch} refused by {self.name!r}, which is at "
                f"epoch {self.epoch}; the sender was superseded",
            )
        if self.role == "primary":
            return error_reply(
                "not-standby",
                f"worker {self.name!r} is a primary (epoch {self.epoch}) and "
                f"refuses {op!r}",
            )
        return None

    # -- client operations ----------------------------------------------------

    async def _ping(self, msg: dict[str, Any]) -> Reply:
        lease = msg.get("lease_until")
        if lease is not None and self.role == "primary" and not self.fenced:
            self.grant_lease(float(lease))
        return {
            "ok": True,
            "name": self.name,
            "role": self.role,
            "epoch": self.epoch,
            "seq": self.seq,
            "fenced": self.fenced,
            "standbys": {
                kind: [s.port for s in self._standbys if s.kind == kind]
                for kind in ("hot", "warm")
            },
            "lost_hot": sorted(self._lost_hot),
        }

    async def _get(self, msg: dict[str, Any]) -> Reply:
        if msg.get("standby") and self.role == "hot":
            return self._standby_get(msg)
        refused = self._primary_check(msg)
        if refused:
            return refused
        value = self.data.get(msg["key"])
        return {"ok": True, "value": value, "name": self.name, "epoch": self.epoch}

    def _standby_get(self, msg: dict[str, Any]) -> Reply:
        """A read of a drained component, answered by its hot standby."""
        if self.fenced or int(msg["epoch"]) != self.epoch:
            return error_reply(
                "stale-epoch",
                f"hot standby {self.name!r} is at epoch {self.epoch}; a standby "
                f"read of epoch {msg['epoch']} is refused",
            )
        value = self.data.get(msg["key"])
        return {
            "ok": True,
            "value": value,
            "name": self.name,
            "epoch": self.epoch,
            "standby": True,
        }

    async def _put(self, msg: dict[str, Any]) -> Reply:
        key, value = str(msg["key"]), msg["value"]
        refused = self._primary_check(msg) or self._lost_hot_check("'put'")
        if refused:
            return refused
        async with self._write_lock:
            # Checked again: the lock may have been held by a write that
            # learned this primary was superseded or lost its hot standby.
            refused = self._primary_check(msg) or self._lost_hot_check("'put'")
            if refused:
                return refused
            rec = {"op": "replicate", "seq": self.seq + 1, "key": key, "value": value}
            rec["epoch"] = self.epoch
            rec["crc"] = _record_crc(rec)
            hots = [s for s in self._standbys if s.kind == "hot"]
            await asyncio.gather(*(self._replicate_hot(s, rec) for s in hots))
            # Applied here even when it is not acknowledged below: a hot
            # standby may hold it already, and reusing its sequence number
            # for the next write would make that standby skip the next write
            # as a duplicate.
            self.seq += 1
            self.data[key] = value
            for s in self._standbys:
                if s.kind == "warm":
                    s.queue.put_nowait(rec)
            if self.fenced:
                return error_reply(
                    "stale-epoch",
                    f"worker {self.name!r} (epoch {self.epoch}) was superseded: a "
                    "hot standby refused its replication; the write was not "
                    "acknowledged",
                )
            refused = self._lease_check("put")
            if refused:
                # Paused while replicating: a standby may be primary by now.
                return refused
            refused = self._lost_hot_check(f"to acknowledge record {rec['seq']}")
            if refused:
                # The lost standby may lack this record, and the orchestrator
                # would still promote it.
                return refused
            return {"ok": True, "seq": self.seq, "epoch": self.epoch, "name": self.name}

    async def _replicate_hot(self, standby: _Standby, rec: dict[str, Any]) -> None:
        try:
            reply = await standby.conn.request(rec, timeout=self.hot_timeout)
        except RuntimeFailure as err:
            self._lose_hot(standby, f"unreachable ({err})")
            return
        if reply.get("ok"):
            return
        if reply.get("error") == "stale-epoch":
            logger.warning(
                "worker %s: hot standby on port %d refused epoch %d (%s); fencing "
                "this primary",
                self.name,
                standby.port,
                self.epoch,
                reply.get("detail"),
            )
            self.fenced = True
            return
        self._lose_hot(standby, f"refused record {rec['seq']}: {reply}")

    def _lose_hot(self, standby: _Standby, why: str) -> None:
        """Detach a failed hot standby and refuse writes until it is forgotten."""
        if standby in self._standbys:
            self._lost_hot[standby.port] = why
        self._detach(standby, why + "; writes are refused until it is replaced")

    def _detach(self, standby: _Standby, why: str) -> None:
        if standby in self._standbys:
            self._standbys.remove(standby)
            logger.warning(
                "worker %s: detached %s standby on port %d: %s",
                self.name,
                standby.kind,
                standby.port,
                why,
            )
        standby.conn.close()
        if standby.task is not None and standby.task is not asyncio.current_task():
            standby.task.cancel()

    # -- standby operations ---------------------------------------------------

    async def _replicate(self, msg: dict[str, Any]) -> Reply:
        if msg.get("crc") != _record_crc(msg):
            return error_reply(
                "bad-checksum",
                f"record {msg.get('seq')} failed its checksum on {self.name!r}; "
                "it was not applied",
            )
        refused = self._standby_check("replicate", int(msg["epoch"]))
        if refused:
            return refused
        seq = int(msg["seq"])
        if seq > self.seq + 1:
            return error_reply(
                "out-of-order",
                f"record {seq} arrived at {self.name!r}, which holds {self.seq}; "
                "re-attach the standby to get a fresh snapshot",
            )
        if seq == self.seq + 1:
            self.data[str(msg["key"])] = msg["value"]
            self.seq = seq
        self.epoch = max(self.epoch, int(msg["epoch"]))
        return {"ok": True, "seq": self.seq}

    async def _install(self, msg: dict[str, Any]) -> Reply:
        try:
            snap = verify_snapshot(msg["snapshot"])
        except DataError as err:
            return error_reply("bad-checksum", f"install on {self.name!r}: {err}")
        refused = self._standby_check("install", int(snap["epoch"]))
        if refused:
            return refused
        self.restore(snap)
        return {"ok": True, "seq": self.seq, "epoch": self.epoch}

    async def _promote(self, msg: dict[str, Any]) -> Reply:
        epoch = int(msg["epoch"])
        if self.role == "primary":
            return error_reply(
                "not-standby",
                f"worker {self.name!r} is already primary of epoch {self.epoch}",
            )
        if epoch <= self.epoch:
            return error_reply(
                "stale-epoch",
                f"promote of {self.name!r} needs an epoch above {self.epoch}; "
                f"got {epoch}",
            )
        self.role, self.epoch = "primary", epoch
        if msg.get("lease_until") is not None:
            self.lease_until = float(msg["lease_until"])
        logger.info("worker %s: promoted to primary, epoch %d", self.name, epoch)
        return {"ok": True, "epoch": self.epoch, "seq": self.seq, "name": self.name}

    # -- primary operations ---------------------------------------------------

    async def _attach(self, msg: dict[str, Any]) -> Reply:
        kind, port = msg["kind"], int(msg["port"])
        if kind not in ("hot", "warm"):
            raise ValueError(f"kind must be 'hot' or 'warm'; got {kind!r}")
        if self.role != "primary" or self.fenced:
            return error_reply(
                "not-primary", f"worker {self.name!r} cannot attach standbys"
            )
        timeout = float(msg.get("timeout", 5.0))
        async with self._write_lock:
            for existing in [s for s in self._standbys if s.port == port]:
                # Re-attaching changes a standby's kind (warm to hot, say).
                self._detach(existing, f"re-attached as {kind}")
            lost = self._lost_hot.pop(port, None)
            try:
                conn = await Connection.open(port, timeout)
                snap = make_snapshot(dict(self.data), self.seq, self.epoch)
                reply = await conn.request(
                    {"op": "install", "snapshot": snap}, timeout=timeout
                )
            except RuntimeFailure as err:
                if lost is not None:
                    self._lost_hot[port] = lost
                return error_reply("attach-failed", f"{self.name!r}: {err}")
            if not reply.get("ok"):
                conn.close()
                if lost is not None:
                    self._lost_hot[port] = lost
                return error_reply(
                    "attach-failed",
                    f"standby on port {port} refused the snapshot: {reply}",
                )
            standby = _Standby(kind, port, conn)
            if kind == "warm":
                interval = float(msg.get("interval", 0.05))
                standby.task = asyncio.create_task(self._ship(standby, interval))
            self._standbys.append(standby)
            logger.info(
                "worker %s: attached %s standby on port %d", self.name, kind, port
            )
            return {"ok": True, "seq": self.seq, "epoch": self.epoch}

    async def _detach_op(self, msg: dict[str, Any]) -> Reply:
        """Stop feeding the standby on ``port`` (moved away, or lost and dropped)."""
        port = int(msg["port"])
        async with self._write_lock:
            lost = self._lost_hot.pop(port, None)
            found = [s for s in self._standbys if s.port == port]
            for standby in found:
                self._standbys.remove(standby)
                standby.conn.close()
                if standby.task is not None:
                    standby.task.cancel()
        logger.info("worker %s: detached standby on port %d", self.name, port)
        if lost is not None:
            logger.warning(
                "worker %s: lost hot standby on port %d dropped; writes resume",
                self.name,
                port,
            )
        return {"ok": True, "detached": len(found), "was_lost": lost is not None}

    async def _ship(self, standby: _Standby, interval: float) -> None:
        """Send queued records to a warm standby, then wait `interval` seconds."""
        while True:
            rec = await standby.queue.get()
            while True:
                try:
                    reply = await standby.conn.request(rec, timeout=self.hot_timeout)
                except RuntimeFailure as err:
                    self._detach(standby, f"unreachable ({err})")
                    return
                if not reply.get("ok"):
                    self._detach(standby, f"refused record {rec['seq']}: {reply}")
                    return
                if standby.queue.empty():
                    break
                rec = standby.queue.get_nowait()
            await asyncio.sleep(interval)

    async def _snapshot(self, msg: dict[str, Any]) -> Reply:
        path = str(msg["path"])
        async with self._write_lock:
            snap = make_snapshot(dict(self.data), self.seq, self.epoch)
        try:
            await asyncio.to_thread(write_snapshot, path, snap)
        except OSError as err:
            return error_reply("snapshot-failed", f"cannot write {path!r}: {err}")
        return {"ok": True, "path": path, "seq": snap["seq"], "crc": snap["crc"]}

    async def _dump(self, msg: dict[str, Any]) -> Reply:
        return {"ok": True, "data": self.data, "seq": self.seq, "epoch": self.epoch}

    async def _slow(self, msg: dict[str, Any]) -> Reply:
        delay = float(msg["delay"])
        if not 0.0 <= delay <= 60.0:
            raise ValueError(f"delay must be in [0, 60] seconds; got {delay}")
        self.delay = delay
        logger.warning("worker %s: every request now waits %g s", self.name, delay)
        return {"ok": True, "delay": delay}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m qnrecovery.runtime.worker",
        description="One worker of the qnrecovery reference key-value service.",
    )
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--epoch", type=int, required=True)
    parser.add_argument("--snapshot", default=None, help="start from this snapshot")
    parser.add_argument("--port", type=int, default=0, help="0: the system chooses")
    parser.add_argument(
        "--hot-timeout",
        type=float,
        default=1.0,
        help="seconds to wait for a standby's acknowledgement before detaching it "
        "(a hot one: writes are then refused until it is replaced)",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=None,
        help="a primary's lease in seconds, renewed by pings that carry one",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if args.epoch < 0:
        parser.error(f"--epoch must be 0 or more; got {args.epoch}")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in 0..65535; got {args.port}")
    return args


async def _run(worker: Worker, port: int) -> None:
    server = await asyncio.start_server(worker.serve, HOST, port, limit=LINE_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound}\n")
    sys.stdout.flush()
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """Run a worker until SIGTERM.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        Exit code: 0 after SIGTERM, 3 for a bad snapshot, 4 for a port that
        cannot be bound.
    """
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    worker = Worker(args.name, args.role, args.epoch, hot_timeout=args.hot_timeout)
    if args.lease is not None and args.role == "primary":
        worker.grant_lease(time.monotonic() + args.lease)
    if args.snapshot is not None:
        try:
            worker.restore(load_snapshot(args.snapshot))
        except DataError as err:
            sys.stderr.write(
                f"worker {args.name}: {err}. Start it from another snapshot or "
                "without --snapshot.\n"
            )
            return EXIT_BAD_SNAPSHOT
    try:
        asyncio.run(_run(worker, args.port))
    except OSError as err:
        sys.stderr.write(
            f"worker {args.name}: cannot listen on {HOST}:{args.port}: {err}. "
            "Stop what holds the port or pass --port 0.\n"
        )
        return EXIT_PORT_IN_USE
    return 0


if __name__ == "__main__":
    sys.exit(main())
