"""Client load: writes and reads through the router, and a ledger of what was acked.

Every write uses a fresh key (``k<n>``) and a unique value, so after a drill
:meth:`ClientLoad.verify` can tell exactly which acknowledged writes the new
primary lacks.

Examples
--------
>>> async def drill(router, sup, primary):  # doctest: +SKIP
...     load = ClientLoad(router.port, ["kv"], rate=100.0)
...     await load.start()
...     await asyncio.sleep(1.0)
...     await load.stop()
...     return await load.verify(lambda component: sup.dump(primary))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.runtime.protocol import Connection

__all__ = ["ClientLoad", "Ledger"]

logger = logging.getLogger(__name__)

DumpFn = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass
class Ledger:
    """What one component's clients sent and what was acknowledged.

    Attributes
    ----------
    acked : dict
        ``key -> (value, time.monotonic() of the ack)`` of acknowledged writes.
    acked_by : dict
        ``key -> (worker name, epoch)`` of the primary that acknowledged it.
    writes : int
        Writes sent.
    failed_writes : int
        Writes answered with an error or lost with their connection.
    retried_writes : int
        Acknowledged writes the router had to retry.
    reads, failed_reads, read_mismatches : int
        Reads sent, reads that failed, and reads of an acknowledged key that
        returned another value.
    in_flight : int
        Writes sent and not answered yet.
    """

    acked: dict[str, tuple[Any, float]] = field(default_factory=dict)
    acked_by: dict[str, tuple[str, int]] = field(default_factory=dict)
    writes: int = 0
    failed_writes: int = 0
    retried_writes: int = 0
    reads: int = 0
    failed_reads: int = 0
    read_mismatches: int = 0
    in_flight: int = 0


class ClientLoad:
    """Writers and readers that keep requests flowing through the router.

    Parameters
    ----------
    router_port : int
        The router's port on 127.0.0.1.
    components : sequence of str
        Components to load.
    rate : float or None, default=100.0
        Target writes per second per component; ``None`` sends back to back.
    concurrency : int, default=2
        Client connections per component, each with at most one request in
        flight.
    read_every : int, default=4
        A writer reads back a random acknowledged key after this many writes;
        0 disables reads.
    request_timeout : float, default=5.0
        Seconds a client waits for the router's reply (keep it above the
        router's deadline).

    Notes
    -----
    At the default rate a write spends a small share of each period in
    flight; call :meth:`wait_write_in_flight` just before injecting a fault
    so that the fault hits a write in flight.
    """

    def __init__(
        self,
        router_port: int,
        components: Sequence[str],
        *,
        rate: float | None = 100.0,
        concurrency: int = 2,
        read_every: int = 4,
        request_timeout: float = 5.0,
    ) -> None:
        self.router_port = router_port
        self.components = list(components)
        self.rate = rate
        self.concurrency = concurrency
        self.read_every = read_every
        self.request_timeout = request_timeout
        self.ledgers: dict[str, Ledger] = {c: Ledger() for c in self.components}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._next_slot: dict[str, float] = {}
        self._counter: dict[str, int] = {}
        self._sent: dict[str, asyncio.Event] = {}
        self._started_at: float | None = None
        self._stopped_at: float | None = None

    async def start(self) -> None:
        """Start the client tasks.

        Raises
        ------
        ConfigError
            If a setting is out of range.
        """
        if (self.rate is not None and self.rate <= 0) or self.concurrency < 1:
            raise ConfigError(
                "rate of ClientLoad must be positive or None and concurrency at "
                f"least 1; got rate={self.rate}, concurrency={self.concurrency}"
            )
        self._started_at = time.monotonic()
        for component in self.components:
            self._next_slot[component] = self._started_at
            self._counter[component] = 0
            self._sent[component] = asyncio.Event()
            for i in range(self.concurrency):
                task = asyncio.create_task(self._client(component, i))
                self._tasks.append(task)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop sending; wait up to `timeout` seconds for requests in flight.

        Parameters
        ----------
        timeout : float, default=5.0
            Seconds to wait before cancelling the clients.
        """
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()

    def in_flight(self, component: str) -> int:
        """Writes of `component` sent and not yet answered."""
        return self.ledgers[component].in_flight

    async def wait_write_in_flight(self, component: str, timeout: float = 2.0) -> None:
        """Return right after a write of `component` was sent.

        Parameters
        ----------
        component : str
            Component name.
        timeout : float, default=2.0
            Seconds to wait.

        Raises
        ------
        RuntimeFailure
            If no write is sent in time.
        """
        if self.ledgers[component].in_flight > 0:
            return
        event = self._sent[component]
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            raise RuntimeFailure(
                f"no write of {component!r} was sent within {timeout:g} s; is the "
                "load started?"
            ) from None

    # -- clients --------------------------------------------------------------

    async def _client(self, component: str, index: int) -> None:
        conn: Connection | None = None
        ledger = self.ledgers[component]
        writes = 0
        try:
            while not self._stopping.is_set():
                await self._pace(component)
                if self._stopping.is_set():
                    break
                if conn is None or conn.closed:
                    conn = await self._connect()
                    if conn is None:
                        continue
                writes += 1
                await self._write(conn, component, ledger)
                if self.read_every and writes % self.read_every == 0:
                    await self._read(conn, component, ledger, index + writes)
        finally:
            if conn is not None:
                conn.close()

    async def _connect(self) -> Connection | None:
        try:
            return await Connection.open(self.router_port, self.request_timeout)
        except RuntimeFailure as err:
            logger.warning("client load cannot reach the router: %s", err)
            await asyncio.sleep(0.05)
            return None

    async def _pace(self, component: str) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        slot = max(self._next_slot[component], now - 0.1)
        self._next_slot[component] = slot + 1.0 / self.rate
        if slot > now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), slot - now)

    async def _write(self, conn: Connection, component: str, ledger: Ledger) -> None:
        n = self._counter[component] = self._counter[component] + 1
        key, value = f"k{n}", f"{component}-v{n}"
        msg = {"op": "put", "component": component, "key": key, "value": value}
        ledger.writes += 1
        ledger.in_flight += 1
        self._sent[component].set()
        try:
            reply = await conn.request(msg, self.request_timeout)
        except RuntimeFailure:
            ledger.failed_writes += 1
            return
        finally:
            ledger.in_flight -= 1
        if reply.get("ok"):
            ledger.acked[key] = (value, time.monotonic())
            ledger.acked_by[key] = (str(reply.get("name")), int(reply.get("epoch", -1)))
            if reply.get("attempts", 1) > 1:
                ledger.retried_writes += 1
        else:
            ledger.failed_writes += 1

    async def _read(
        self, conn: Connection, component: str, ledger: Ledger, pick: int
    ) -> None:
        if not ledger.acked:
            return
        keys = list(ledger.acked)
        key = keys[(pick * 7919) % len(keys)]
        ledger.reads += 1
        msg = {"op": "get", "component": component, "key": key}
        try:
            reply = await conn.request(msg, self.request_timeout)
        except RuntimeFailure:
            ledger.failed_reads += 1
            return
        if not reply.get("ok"):
            ledger.failed_reads += 1
        elif reply.get("value") != ledger.acked[key][0]:
            ledger.read_mismatches += 1

    # -- results --------------------------------------------------------------

    def primaries_per_epoch(self, component: str) -> dict[int, set[str]]:
        """Workers that acknowledged writes of `component`, by epoch.

        Fencing holds when every set has one member.
        """
        out: dict[int, set[str]] = {}
        for name, epoch in self.ledgers[component].acked_by.values():
            out.setdefault(epoch, set()).add(name)
        return out

    def report(self) -> dict[str, dict[str, Any]]:
        """Counters per component, with the acknowledged write rate.

        Returns
        -------
        dict
            ``component -> {writes, acked_writes, failed_writes,
            retried_writes, reads, failed_reads, read_mismatches, duration_s,
            write_rate}``.
        """
        start = self._started_at or time.monotonic()
        duration = (self._stopped_at or time.monotonic()) - start
        out: dict[str, dict[str, Any]] = {}
        for component, ledger in self.ledgers.items():
            out[component] = {
                "writes": ledger.writes,
                "acked_writes": len(ledger.acked),
                "failed_writes": ledger.failed_writes,
                "retried_writes": ledger.retried_writes,
                "reads": ledger.reads,
                "failed_reads": ledger.failed_reads,
                "read_mismatches": ledger.read_mismatches,
                "duration_s": duration,
                "write_rate": len(ledger.acked) / duration if duration > 0 else 0.0,
            }
        return out

    async def verify(self, dump_fn: DumpFn) -> dict[str, dict[str, Any]]:
        """Count acknowledged writes missing from each component's final state.

        Stops the load first if it is still running.

        Parameters
        ----------
        dump_fn : callable
            ``async dump_fn(component)`` returning the ``dump`` reply
            (``{ok, data, seq}``) of that component's current primary.

        Returns
        -------
        dict
            :meth:`report` per component plus ``acked_writes_lost`` (acked
            keys missing or holding another value) and ``lost_keys`` (the
            first 10 of them).
        """
        if not self._stopping.is_set():
            await self.stop()
        results = self.report()
        for component, ledger in self.ledgers.items():
            dump = await dump_fn(component)
            data = dump.get("data")
            if not isinstance(data, dict):
                raise RuntimeFailure(
                    f"dump_fn({component!r}) must return a dump reply with a "
                    f"'data' mapping; got keys {sorted(dump)}"
                )
            lost = [
                key
                for key, (value, _) in ledger.acked.items()
                if key not in data or data[key] != value
            ]
            results[component]["acked_writes_lost"] = len(lost)
            results[component]["lost_keys"] = sorted(lost, key=lambda k: int(k[1:]))[
                :10
            ]
        return results
