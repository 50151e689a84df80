"""The router: sends each client request to its component's current primary.

Clients send ``{op: "put" | "get", component, key, value?}`` lines over TCP.
The router stamps the request with the route's epoch and forwards it to the
primary. If forwarding fails (reset, time-out, ``stale-epoch``,
``not-primary``), the router does not answer yet: it retries against the
current route, which the orchestrator may have switched meanwhile, until the
request's deadline, and only then replies with an error. A client therefore
never sees an acknowledgement the current primary did not give.

The router also records, per component, when each ``(name, epoch)`` pair first
answered, which is how a drill measures recovery time.

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
RETRY_ERRORS = frozenset({"stale-epoch", "not-primary"})


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
    """

    requests: int = 0
    answered: int = 0
    failed: int = 0
    retried: int = 0
    first_answers: dict[tuple[str, int], float] = field(default_factory=dict)


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
        """
        old = self.routes.get(component)
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
        reply = await self._forward(component, op, msg, stats)
        if reply.get("ok"):
            stats.answered += 1
        else:
            stats.failed += 1
        return reply

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
                route, fwd, min(self.attempt_timeout, remaining)
            )
            if reply.get("ok"):
                key = (str(reply.get("name", route.name)), int(reply.get("epoch", -1)))
                stats.first_answers.setdefault(key, time.monotonic())
                return {**reply, "attempts": attempts}
            if reply.get("error") not in RETRY_ERRORS | {"unavailable"}:
                return {**reply, "attempts": attempts}
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
        self, route: Route, fwd: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        try:
            conn = await self._acquire(route.port, timeout)
            reply = await conn.request(fwd, timeout)
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
