"""The router: sends each client request to its component's current primary.

Clients send ``{op: "put" | "get", component, key, value?}`` lines over TCP.
The router stamps the request with the route's epoch and forwards it to the
primary. If forwarding fails (reset, time-out, ``stale-epoch``,
``not-primary``, ``lease-expired``, ``hot-standby-lost``), the router does not
answer yet: it retries against the current route, which the orchestrator may
have switched (or whose lost hot standby it may have replaced) meanwhile, until
the request's deadline, and only then replies with an error. A client therefore
never sees an acknowledgement the current primary did not give.

Fencing: a route's epoch never goes back (:meth:`Router.switch` refuses an
older one), and a successful reply counts only if it carries the epoch of the
route *when it arrives*; a reply of an older epoch (a primary that was paused
and woke up after the switch, say) is dropped and the request retried on the
current primary. A client therefore never sees an answer from a superseded
primary.

Draining: :meth:`Router.drain` sends a component's reads to its hot standby
(which holds every acknowledged write) until :meth:`Router.undrain`; writes
still go to the primary, and a refused standby read falls back to it.

The router also records, per component, when each ``(name, epoch)`` pair first
answered, which is how a drill measures recovery time, and the sequence
number, epoch and time of every acknowledged write (:attr:`RouteStats.acks`),
from which the recovery engine measures a warm standby's RPO.

Examples
--------
>>> async def main(primary_port):  # doctest: +SKIP
...     async with Router() as router:
...         router.switch("kv", primary_port, epoch=1, name="kv-a")
...         reply = await router.request({"op": "put", "component": "kv",
...                                       "key": "k1", "value": 1})
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from qnrecovery.exceptions import ConfigError, PortInUseError, RuntimeFailure
from qnrecovery.runtime.protocol import (
    HOST,
    LINE_LIMIT,
    Connection,
    error_reply,
    serve_lines,
)

__all__ = ["Route", "RouteStats", "Router"]

logger = logging.getLogger(__name__)

#: Worker error codes after which the router retries on the current route.
RETRY_ERRORS = frozenset(
    {"stale-epoch", "not-primary", "lease-expired", "hot-standby-lost"}
)

#: Acknowledged writes remembered per component for RPO measurement.
ACK_HISTORY = 20_000


@dataclass(frozen=True)
class Route:
    """Where a component's requests go.

    Attributes
    ----------
    port : int
        The primary's port on 127.0.0.1.
    epoch : int
        The epoch stamped on forwarded requests.
    name : str
        The primary's worker name.
    switched_at : float
        ``time.monotonic()`` when the route was set.
    """

    port: int
    epoch: int
    name: str
    switched_at: float


@dataclass
class RouteStats:
    """Counters of one component's requests.

    Attributes
    ----------
    requests : int
        Requests received.
    answered : int
        Requests answered with ``ok: true``.
    failed : int
        Requests answered with an error.
    retried : int
        Forwarding attempts that were retried.
    first_answers : dict
        ``(name, epoch) -> time.monotonic()`` of that primary's first
        successful answer.
    stale_replies : int
        Successful replies dropped because they carried an older epoch than
        the route had when they arrived.
    drained_reads : int
        Reads answered by the hot standby while the component was drained.
    acks : deque of (epoch, seq, time)
        The last :data:`ACK_HISTORY` acknowledged writes.
    """

    requests: int = 0
    answered: int = 0
    failed: int = 0
    retried: int = 0
    first_answers: dict[tuple[str, int], float] = field(default_factory=dict)
    stale_replies: int = 0
    drained_reads: int = 0
    acks: deque[tuple[int, int, float]] = field(
        default_factory=lambda: deque(maxlen=ACK_HISTORY)
    )

    def last_ack(self, epoch: int) -> tuple[int, float] | None:
        """``(seq, time)`` of the newest write acknowledged in `epoch`."""
        for e, seq, t in reversed(self.acks):
            if e == epoch:
                return seq, t
        return None

    def ack_time(self, seq: int) -> float | None:
        """When the write with sequence number `seq` was acknowledged."""
        for _, s, t in reversed(self.acks):
            if s == seq:
                return t
            if s < seq:
                return None
        return None


class Router:
    """Asyncio TCP router in front of the components' primaries.

    Parameters
    ----------
    port : int, default=0
        Port to listen on, on 127.0.0.1; 0 lets the system choose.
    deadline : float, default=3.0
        Seconds a request may spend in retries before the router replies
        with an error.
    attempt_timeout : float, default=1.0
        Seconds one forwarding attempt may take.
    pool_size : int, default=8
        Idle connections kept open per worker.

    Attributes
    ----------
    routes : dict
        ``component -> Route``.
    stats : dict
        ``component -> RouteStats``.
    drained : dict
        ``component -> (port, name)`` of the hot standby serving its reads.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        deadline: float = 3.0,
        attempt_timeout: float = 1.0,
        pool_size: int = 8,
    ) -> None:
        self.requested_port = port
        self.deadline = deadline
        self.attempt_timeout = attempt_timeout
        self.pool_size = pool_size
        self.routes: dict[str, Route] = {}
        self.stats: dict[str, RouteStats] = {}
        self.drained: dict[str, tuple[int, str]] = {}
        self._pools: dict[int, list[Connection]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> Router:
        """Start listening.

        Returns
        -------
        Router
            This router.

        Raises
        ------
        PortInUseError
            If the requested port is already bound.
        ConfigError
            If a setting is out of range.
        """
        if self.deadline <= 0 or self.attempt_timeout <= 0:
            raise ConfigError(
                "deadline and attempt_timeout of Router must be positive; got "
                f"{self.deadline} and {self.attempt_timeout}"
            )
        try:
            self._server = await asyncio.start_server(
                self._serve, HOST, self.requested_port, limit=LINE_LIMIT
            )
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                exc = PortInUseError(
                    f"router cannot listen on {HOST}:{self.requested_port}: the port "
                    "is already in use; stop what holds it or pass port=0"
                )
                exc.errno = errno.EADDRINUSE
                raise exc from err
            raise
        logger.info("router listening on %s:%d", HOST, self.port)
        return self

    @property
    def port(self) -> int:
        """The port the router listens on."""
        if self._server is None:
            raise RuntimeFailure("the router is not started; call start() first")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        for pool in self._pools.values():
            for conn in pool:
                conn.close()
        self._pools.clear()

    async def __aenter__(self) -> Router:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- routes ---------------------------------------------------------------

    def switch(self, component: str, port: int, epoch: int, name: str) -> None:
        """Send `component`'s requests to a new primary from now on.

        Parameters
        ----------
        component : str
            Component name.
        port : int
            The new primary's port.
        epoch : int
            Its epoch, stamped on every forwarded request.
        name : str
            Its worker name.

        Raises
        ------
        RuntimeFailure
            If `epoch` is older than the current route's: a superseded
            orchestrator must not route clients back to an old primary.
        """
        old = self.routes.get(component)
        if old is not None and epoch < old.epoch:
            raise RuntimeFailure(
                f"route switch of {component!r} to {name!r} at epoch {epoch} "
                f"refused: the route is already at epoch {old.epoch}"
            )
        self.routes[component] = Route(port, epoch, name, time.monotonic())
        self.stats.setdefault(component, RouteStats())
        if old is not None and old.port != port:
            for conn in self._pools.pop(old.port, []):
                conn.close()
        # Wake requests waiting to retry this component.
        event = self._changed.pop(component, None)
        if event is not None:
            event.set()
        logger.info("route %s -> %s (port %d, epoch %d)", component, name, port, epoch)

    def drain(self, component: str, port: int, name: str) -> None:
        """Send `component`'s reads to its hot standby at `port` from now on."""
        if component not in self.routes:
            raise RuntimeFailure(f"cannot drain {component!r}: it has no route")
        self.drained[component] = (port, name)
        logger.info("drain %s: reads -> hot standby %s", component, name)

    def undrain(self, component: str) -> bool:
        """Send `component`'s reads to its primary again; whether it was drained."""
        return self.drained.pop(component, None) is not None

    def first_answer_after(self, component: str, epoch: int) -> float | None:
        """When a primary of `epoch` or later first answered for `component`.

        Parameters
        ----------
        component : str
            Component name.
        epoch : int
            The epoch the new primary was promoted to.

        Returns
        -------
        float or None
            ``time.monotonic()`` of the earliest successful answer from any
            ``(name, e)`` with ``e >= epoch``; ``None`` if none yet.
        """
        stats = self.stats.get(component)
        if stats is None:
            return None
        times = [t for (_, e), t in stats.first_answers.items() if e >= epoch]
        return min(times) if times else None

    # -- forwarding -----------------------------------------------------------

    async def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Forward one client request and return the reply for the client.

        Parameters
        ----------
        msg : dict
            ``{op: "put" | "get", component, key, value?}``.

        Returns
        -------
        dict
            The primary's reply plus ``attempts``, or an error reply.
        """
        op, component = msg.get("op"), msg.get("component")
        if op not in ("put", "get") or "key" not in msg:
            return error_reply(
                "bad-request",
                f"router requests need op 'put' or 'get' and a key; got op {op!r}",
            )
        if not isinstance(component, str) or component not in self.routes:
            return error_reply(
                "no-route",
                f"no route for component {component!r}; known: {sorted(self.routes)}",
            )
        stats = self.stats[component]
        stats.requests += 1
        reply = None
        if op == "get" and component in self.drained:
            reply = await self._standby_read(component, msg, stats)
        if reply is None:
            reply = await self._forward(component, op, msg, stats)
        if reply.get("ok"):
            stats.answered += 1
        else:
            stats.failed += 1
        return reply

    async def _standby_read(
        self, component: str, msg: dict[str, Any], stats: RouteStats
    ) -> dict[str, Any] | None:
        """A drained read from the hot standby, or ``None`` to ask the primary."""
        port, name = self.drained[component]
        route = self.routes[component]
        fwd = {"op": "get", "key": msg["key"], "epoch": route.epoch, "standby": True}
        standby = Route(port, route.epoch, name, route.switched_at)
        reply = await self._attempt(standby, fwd, self.attempt_timeout)
        fresh = self.routes[component].epoch == int(reply.get("epoch", -1))
        if not reply.get("ok") or not fresh:
            return None
        stats.drained_reads += 1
        return {**reply, "attempts": 1}

    async def _forward(
        self, component: str, op: str, msg: dict[str, Any], stats: RouteStats
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.deadline
        attempts, backoff, last = 0, 0.0005, "no attempt"
        while True:
            route = self.routes[component]
            changed = self._changed.setdefault(component, asyncio.Event())
            attempts += 1
            fwd = {"op": op, "key": msg["key"], "epoch": route.epoch}
            if op == "put":
                fwd["value"] = msg.get("value")
            remaining = deadline - time.monotonic()
            reply = await self._attempt(
                route, fwd, min(self.attempt_timeout, remaining), changed
            )
            epoch = int(reply.get("epoch", -1))
            current = self.routes[component].epoch
            if reply.get("ok") and epoch == current:
                now = time.monotonic()
                key = (str(reply.get("name", route.name)), epoch)
                stats.first_answers.setdefault(key, now)
                if op == "put" and "seq" in reply:
                    stats.acks.append((epoch, int(reply["seq"]), now))
                return {**reply, "attempts": attempts}
            if reply.get("ok"):
                # Answered by a primary the route moved away from meanwhile.
                stats.stale_replies += 1
                last = f"stale reply of epoch {epoch}; the route is at {current}"
            elif reply.get("error") not in RETRY_ERRORS | {"unavailable"}:
                return {**reply, "attempts": attempts}
            else:
                last = f"{reply.get('error')}: {reply.get('detail')}"

            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return error_reply(
                    "unavailable",
                    f"{op} on {component!r} not answered within {self.deadline:g} s "
                    f"after {attempts} attempts; last: {last}",
                ) | {"attempts": attempts}
            stats.retried += 1
            if self.routes[component] is route:
                # Retry at once when the route switches, else after a backoff.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(backoff, remaining))
                backoff = min(backoff * 2, 0.02)

    async def _attempt(
        self,
        route: Route,
        fwd: dict[str, Any],
        timeout: float,
        changed: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        """Send `fwd` on `route`; give up early if the route is switched.

        A request stuck at a hung primary would otherwise hold its client
        until `timeout`; when `changed` is set (the orchestrator switched the
        route) the attempt is abandoned and its connection closed, so the
        request is retried on the new primary at once. An abandoned write
        is never reported as acknowledged: the old primary is fenced.
        """
        try:
            conn = await self._acquire(route.port, timeout)
        except RuntimeFailure as err:
            return error_reply("unavailable", str(err))
        request = asyncio.ensure_future(conn.request(fwd, timeout))
        if changed is not None:
            switched = asyncio.ensure_future(changed.wait())
            await asyncio.wait({request, switched}, return_when=asyncio.FIRST_COMPLETED)
            switched.cancel()
            if not request.done():
                request.cancel()
                conn.close()
                with contextlib.suppress(asyncio.CancelledError, RuntimeFailure):
                    await request
                return error_reply(
                    "unavailable", f"route switched away from {route.name!r}"
                )
        try:
            reply = await request
        except RuntimeFailure as err:
            return error_reply("unavailable", str(err))
        self._release(conn)
        return reply

    async def _acquire(self, port: int, timeout: float) -> Connection:
        pool = self._pools.get(port)
        while pool:
            conn = pool.pop()
            if not conn.closed:
                return conn
        return await Connection.open(port, timeout)

    def _release(self, conn: Connection) -> None:
        pool = self._pools.setdefault(conn.port, [])
        routed = any(r.port == conn.port for r in self.routes.values())
        if conn.closed or not routed or len(pool) >= self.pool_size:
            conn.close()
        else:
            pool.append(conn)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._clients.add(writer)
        try:
            await serve_lines(reader, writer, self.request)
        finally:
            self._clients.discard(writer)
