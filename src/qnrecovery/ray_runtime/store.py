"""The replicated key-value store that runs inside one Ray actor.

:class:`KVStore` is a plain Python class with ``async`` methods; the Ray
runtime wraps it with ``ray.remote`` at run time, so this module imports no
Ray. It keeps the semantics of the local worker
(:mod:`qnrecovery.runtime.worker`) with actor calls in place of TCP lines:

``put(key, value, epoch)``
    Primary only, only at the store's epoch, only while its lease holds. The
    write gets the next sequence number; every attached hot standby applies
    it (an awaited actor call) before the primary applies it and acknowledges
    ``{ok, seq, epoch, name}``. Attached warm standbys receive it later from
    a background shipper.
``get(key, epoch)``
    Primary only, fenced like ``put``.
``replicate(record)``
    Standby only: verifies the checksum and the epoch, applies records in
    sequence order.
``install(snapshot)`` / ``snapshot()``
    Replace the state with a verified snapshot / take one.
``attach(kind, handle, name)`` / ``detach(name)``
    Primary only: install a snapshot on a standby actor and stream later
    writes to it (``hot`` synchronously, ``warm`` every ``interval`` s).
``promote(epoch, lease_until)``
    Standby only: become primary with a greater epoch.
``ping(lease_until)``
    Renews a primary's lease (``time.time()`` seconds, so leases are
    comparable across hosts whose clocks are synchronised).

Fencing: a primary whose lease ran out refuses reads and writes
(``lease-expired``); a primary whose hot standby refuses a record with
``stale-epoch`` learns it was superseded and refuses everything from then on.
A hot standby that does not answer within ``hot_timeout`` makes the primary
refuse writes (``standby-unreachable``) until the controller detaches that
standby, so the controller never promotes a hot standby that missed an
acknowledged write.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

from qnrecovery.exceptions import DataError
from qnrecovery.runtime.protocol import checksum, error_reply
from qnrecovery.runtime.worker import make_snapshot, verify_snapshot

__all__ = ["ROLES", "KVStore", "record_crc"]

logger = logging.getLogger(__name__)

#: Roles a store can start in.
ROLES = ("primary", "hot", "warm")

Reply = dict[str, Any]


def record_crc(rec: dict[str, Any]) -> str:
    """Checksum of a replication record's ``seq``, ``key``, ``value``, ``epoch``."""
    return checksum(
        {
            "seq": rec["seq"],
            "key": rec["key"],
            "value": rec["value"],
            "epoch": rec["epoch"],
        }
    )


class KVStore:
    """State and operations of one replica of a component.

    Parameters
    ----------
    name : str
        Replica name, echoed in replies.
    role : {"primary", "hot", "warm"}
        Starting role.
    epoch : int
        Starting epoch.
    host : str
        Logical host the replica was placed on (reported back by ``where``).
    hot_timeout : float, default=0.25
        Seconds a primary waits for a hot standby's acknowledgement.
    warm_interval : float, default=0.05
        Seconds between two shipments of records to a warm standby.
    """

    def __init__(
        self,
        name: str,
        role: str,
        epoch: int,
        host: str = "",
        *,
        hot_timeout: float = 0.25,
        warm_interval: float = 0.05,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}; got {role!r}")
        self.name = name
        self.role = role
        self.epoch = epoch
        self.host = host
        self.hot_timeout = hot_timeout
        self.warm_interval = warm_interval
        self.data: dict[str, Any] = {}
        self.seq = 0
        self.fenced = False
        self.pings_broken = False
        self.lease_until: float | None = None
        self.hots: dict[str, Any] = {}
        self.warms: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
        self.failing: set[str] = set()
        self._lock: asyncio.Lock | None = None
        self._shipper: asyncio.Task[None] | None = None

    # -- introspection --------------------------------------------------------

    async def where(self) -> Reply:
        """``{name, host, pid, node_id}`` of this replica."""
        import ray

        return {
            "name": self.name,
            "host": self.host,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
        }

    async def ping(self, lease_until: float | None = None) -> Reply:
        """Answer at once; a live primary's lease is extended to `lease_until`.

        Raises
        ------
        RuntimeError
            While :meth:`break_pings` is in force.
        """
        if self.pings_broken:
            raise RuntimeError(f"replica {self.name!r}: pings broken (fault injection)")
        if lease_until is not None and self.role == "primary" and not self.fenced:
            self.lease_until = max(lease_until, self.lease_until or lease_until)
        return {
            "ok": True,
            "name": self.name,
            "role": self.role,
            "epoch": self.epoch,
            "seq": self.seq,
            "fenced": self.fenced,
            "failing": sorted(self.failing),
        }

    async def crash(self) -> None:
        """Fault injection: SIGKILL this replica's own process."""
        os.kill(os.getpid(), signal.SIGKILL)

    async def stall(self, seconds: float) -> None:
        """Fault injection: block this replica's event loop for `seconds`.

        Stands for a loaded host: the replica answers nothing meanwhile, then
        carries on with whatever was queued.
        """
        time.sleep(seconds)

    async def break_pings(self, broken: bool = True) -> None:
        """Fault injection: make :meth:`ping` raise (reads and writes still work)."""
        self.pings_broken = broken

    # -- checks ---------------------------------------------------------------

    def _primary_check(self, op: str, epoch: int) -> Reply | None:
        if self.role != "primary":
            return error_reply(
                "not-primary",
                f"replica {self.name!r} is a {self.role} standby; send {op!r} to "
                "the primary",
            )
        if self.fenced or epoch != self.epoch:
            return error_reply(
                "stale-epoch",
                f"replica {self.name!r} is primary of epoch {self.epoch} "
                f"(fenced: {self.fenced}); request epoch {epoch}; refresh the route",
            )
        if self.lease_until is not None and time.time() > self.lease_until:
            return error_reply(
                "lease-expired",
                f"replica {self.name!r} (epoch {self.epoch}) refuses {op!r}: its "
                "lease ran out without renewal; retry on the current primary",
            )
        return None

    # -- client operations ----------------------------------------------------

    async def get(self, key: str, epoch: int) -> Reply:
        """Read `key` at the primary of `epoch`."""
        refused = self._primary_check("get", epoch)
        if refused:
            return refused
        return {
            "ok": True,
            "value": self.data.get(key),
            "name": self.name,
            "epoch": self.epoch,
        }

    async def put(self, key: str, value: Any, epoch: int) -> Reply:
        """Write `key`; acknowledged only once every hot standby applied it."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            refused = self._primary_check("put", epoch)
            if refused:
                return refused
            if self.failing:
                return error_reply(
                    "unavailable",
                    f"replica {self.name!r}: hot standby {sorted(self.failing)} "
                    "did not answer; writes wait until the controller detaches it",
                )
            rec = {"seq": self.seq + 1, "key": str(key), "value": value}
            rec["epoch"] = self.epoch
            rec["crc"] = record_crc(rec)
            await asyncio.gather(
                *(self._to_hot(n, h, rec) for n, h in self.hots.items())
            )
            self.seq += 1
            self.data[str(key)] = value
            for _, queue in self.warms.values():
                queue.append(rec)
            if self.fenced:
                return error_reply(
                    "stale-epoch",
                    f"replica {self.name!r} (epoch {self.epoch}) was superseded: a "
                    "hot standby refused its record; the write was not acknowledged",
                )
            if self.failing:
                return error_reply(
                    "unavailable",
                    f"replica {self.name!r}: hot standby {sorted(self.failing)} did "
                    f"not acknowledge record {rec['seq']}; not acknowledged",
                )
            refused = self._primary_check("put", epoch)
            if refused:
                return refused
            return {"ok": True, "seq": self.seq, "epoch": self.epoch, "name": self.name}

    async def _to_hot(self, name: str, handle: Any, rec: dict[str, Any]) -> None:
        try:
            reply = await asyncio.wait_for(
                _await_ref(handle.replicate.remote(rec)), self.hot_timeout
            )
        except Exception as err:  # a timeout or an actor that died
            logger.warning("replica %s: hot standby %s: %r", self.name, name, err)
            reply = {}
        if reply.get("ok"):
            return
        if reply.get("error") == "stale-epoch":
            self.fenced = True
            return
        if name in self.hots:
            # A standby detached while its record was on the way is no longer
            # one the controller may promote: its miss does not block writes.
            self.failing.add(name)

    # -- standby operations ---------------------------------------------------

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
                f"replica {self.name!r} is a primary (epoch {self.epoch}) and "
                f"refuses {op!r}",
            )
        return None

    async def replicate(self, rec: dict[str, Any]) -> Reply:
        """Apply one record from the primary, in sequence order."""
        if rec.get("crc") != record_crc(rec):
            return error_reply(
                "bad-checksum",
                f"record {rec.get('seq')} failed its checksum on {self.name!r}",
            )
        refused = self._standby_check("replicate", int(rec["epoch"]))
        if refused:
            return refused
        seq = int(rec["seq"])
        if seq > self.seq + 1:
            return error_reply(
                "out-of-order",
                f"record {seq} arrived at {self.name!r}, which holds {self.seq}; "
                "attach the standby again to send a fresh snapshot",
            )
        if seq == self.seq + 1:
            self.data[str(rec["key"])] = rec["value"]
            self.seq = seq
        self.epoch = max(self.epoch, int(rec["epoch"]))
        return {"ok": True, "seq": self.seq}

    async def replicate_many(self, records: list[dict[str, Any]]) -> Reply:
        """Apply a batch of records (a warm standby's shipment)."""
        reply: Reply = {"ok": True, "seq": self.seq}
        for rec in records:
            reply = await self.replicate(rec)
            if not reply.get("ok"):
                return reply
        return reply

    async def install(self, snap: dict[str, Any]) -> Reply:
        """Replace the state with a verified snapshot."""
        try:
            snap = verify_snapshot(snap)
        except DataError as err:
            return error_reply("bad-checksum", f"install on {self.name!r}: {err}")
        refused = self._standby_check("install", int(snap["epoch"]))
        if refused:
            return refused
        self.data = dict(snap["data"])
        self.seq = int(snap["seq"])
        self.epoch = max(self.epoch, int(snap["epoch"]))
        return {"ok": True, "seq": self.seq, "epoch": self.epoch}

    async def promote(self, epoch: int, lease_until: float | None = None) -> Reply:
        """Become primary of `epoch`, which must exceed the current one."""
        if self.role == "primary":
            return error_reply(
                "not-standby",
                f"replica {self.name!r} is already primary of epoch {self.epoch}",
            )
        if epoch <= self.epoch:
            return error_reply(
                "stale-epoch",
                f"promote of {self.name!r} needs an epoch above {self.epoch}; "
                f"got {epoch}",
            )
        self.role, self.epoch, self.lease_until = "primary", epoch, lease_until
        return {"ok": True, "epoch": self.epoch, "seq": self.seq, "name": self.name}

    # -- primary operations ---------------------------------------------------

    async def snapshot(self) -> Reply:
        """A checksummed snapshot ``{data, seq, epoch, crc}`` of the state."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return make_snapshot(dict(self.data), self.seq, self.epoch)

    async def dump(self) -> Reply:
        """``{ok, data, seq, epoch, role}``."""
        return {
            "ok": True,
            "data": dict(self.data),
            "seq": self.seq,
            "epoch": self.epoch,
            "role": self.role,
        }

    async def attach(
        self, kind: str, handle: Any, name: str, timeout: float = 5.0
    ) -> Reply:
        """Install a snapshot on standby `handle` and stream later writes to it."""
        if kind not in ("hot", "warm"):
            raise ValueError(f"kind must be 'hot' or 'warm'; got {kind!r}")
        if self.role != "primary" or self.fenced:
            return error_reply(
                "not-primary", f"replica {self.name!r} cannot attach standbys"
            )
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._forget(name)
            snap = make_snapshot(dict(self.data), self.seq, self.epoch)
            try:
                reply = await asyncio.wait_for(
                    _await_ref(handle.install.remote(snap)), timeout
                )
            except Exception as err:
                return error_reply("attach-failed", f"{self.name!r}: {err!r}")
            if not reply.get("ok"):
                return error_reply("attach-failed", f"{name!r} refused: {reply}")
            if kind == "hot":
                self.hots[name] = handle
            else:
                self.warms[name] = (handle, [])
                if self._shipper is None or self._shipper.done():
                    self._shipper = asyncio.get_running_loop().create_task(self._ship())
            return {"ok": True, "seq": self.seq, "epoch": self.epoch}

    async def detach(self, name: str) -> Reply:
        """Stop replicating to standby `name`; writes resume without it."""
        self._forget(name)
        return {"ok": True, "hots": sorted(self.hots), "warms": sorted(self.warms)}

    def _forget(self, name: str) -> None:
        self.hots.pop(name, None)
        self.warms.pop(name, None)
        self.failing.discard(name)

    async def _ship(self) -> None:
        """Send queued records to every warm standby, then wait."""
        while self.warms:
            for name, (handle, queue) in list(self.warms.items()):
                if not queue:
                    continue
                batch = list(queue)
                try:
                    reply = await asyncio.wait_for(
                        _await_ref(handle.replicate_many.remote(batch)),
                        max(1.0, 4 * self.hot_timeout),
                    )
                except Exception as err:
                    logger.warning("replica %s: warm %s: %r", self.name, name, err)
                    self.warms.pop(name, None)
                    continue
                if not reply.get("ok"):
                    self.warms.pop(name, None)
                    continue
                del queue[: len(batch)]
            await asyncio.sleep(self.warm_interval)


async def _await_ref(ref: Any) -> Any:
    """Await a Ray object reference inside a coroutine."""
    return await ref
