"""Wire protocol of the reference workload: one JSON object per line over TCP.

A client writes one request line and reads one reply line on the same
connection; a connection carries one request at a time. Every reply has an
``ok`` field; an error reply reads ``{"ok": false, "error": "<code>",
"detail": "..."}``, where ``code`` is one of :data:`ERROR_CODES`.

Records and snapshots carry a checksum (:func:`checksum`, CRC-32 of a
canonical JSON encoding) that the receiver verifies before using them.

This module uses the standard library only, because worker processes import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from qnrecovery.exceptions import RuntimeFailure

__all__ = [
    "ERROR_CODES",
    "HOST",
    "LINE_LIMIT",
    "Connection",
    "checksum",
    "decode",
    "encode",
    "error_reply",
    "recv",
    "send",
    "serve_lines",
]

#: The only address the reference workload listens on or connects to.
HOST = "127.0.0.1"

#: Longest line a reader accepts, in bytes (a snapshot travels as one line).
LINE_LIMIT = 256 * 1024 * 1024

#: Error codes a worker or the router may reply with.
ERROR_CODES = (
    "bad-request",
    "unknown-op",
    "not-primary",
    "not-standby",
    "stale-epoch",
    "lease-expired",
    "hot-standby-lost",
    "bad-checksum",
    "out-of-order",
    "attach-failed",
    "snapshot-failed",
    "no-route",
    "unavailable",
)


def encode(msg: dict[str, Any]) -> bytes:
    """Encode one message as a JSON line.

    Parameters
    ----------
    msg : dict
        A JSON-serialisable mapping.

    Returns
    -------
    bytes
        Compact UTF-8 JSON followed by a newline.
    """
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Decode one JSON line into a message.

    Parameters
    ----------
    line : bytes
        One line, with or without its trailing newline.

    Returns
    -------
    dict
        The message.

    Raises
    ------
    RuntimeFailure
        If the line is not a JSON object.
    """
    try:
        msg = json.loads(line)
    except ValueError as err:
        raise RuntimeFailure(
            f"received a line that is not JSON ({err}); the peer does not speak "
            "the qnrecovery runtime protocol"
        ) from err
    if not isinstance(msg, dict):
        raise RuntimeFailure(
            f"received a JSON {type(msg).__name__} where a message object was "
            "expected; every line must be one JSON object"
        )
    return msg


def checksum(obj: Any) -> str:
    """CRC-32 of the canonical JSON encoding of `obj`.

    Keys are sorted and separators fixed, so equal objects give equal sums
    whatever the order their mappings were built in.

    Parameters
    ----------
    obj : Any
        A JSON-serialisable value.

    Returns
    -------
    str
        Eight lowercase hexadecimal digits.
    """
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(canonical.encode()):08x}"


def error_reply(code: str, detail: str) -> dict[str, Any]:
    """Build an error reply.

    Parameters
    ----------
    code : str
        One of :data:`ERROR_CODES`.
    detail : str
        What was wrong and what to do, for a person reading a log.

    Returns
    -------
    dict
        ``{"ok": False, "error": code, "detail": detail}``.
    """
    return {"ok": False, "error": code, "detail": detail}


async def send(writer: asyncio.StreamWriter, msg: dict[str, Any]) -> None:
    """Write one message and wait until the transport accepted it.

    Parameters
    ----------
    writer : asyncio.StreamWriter
        The connection's writer.
    msg : dict
        The message.
    """
    writer.write(encode(msg))
    await writer.drain()


async def recv(reader: asyncio.StreamReader) -> dict[str, Any]:
    """Read one message.

    Parameters
    ----------
    reader : asyncio.StreamReader
        The connection's reader.

    Returns
    -------
    dict
        The message.

    Raises
    ------
    RuntimeFailure
        If the peer closed the connection or sent something that is not a
        JSON object.
    """
    line = await reader.readline()
    if not line.endswith(b"\n"):
        raise RuntimeFailure("the peer closed the connection before a full reply")
    return decode(line)


async def serve_lines(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
) -> None:
    """Answer each request line with ``handle``'s reply until the peer closes.

    A line that is not a JSON object gets a ``bad-request`` reply; a peer that
    goes away ends the loop quietly. The writer is closed on the way out.
    """
    try:
        while line := await reader.readline():
            try:
                reply = await handle(decode(line))
            except RuntimeFailure as err:
                reply = error_reply("bad-request", str(err))
            await send(writer, reply)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


class Connection:
    """A client connection that sends one request at a time.

    A request that fails half-way (time-out, reset, cancellation) leaves the
    stream out of step, so the connection closes itself; open a new one.

    Parameters
    ----------
    reader, writer : asyncio.StreamReader, asyncio.StreamWriter
        An open stream pair.
    port : int
        The peer's port, for messages.

    Examples
    --------
    >>> async def ping(port):  # doctest: +SKIP
    ...     conn = await Connection.open(port, timeout=1.0)
    ...     try:
    ...         return await conn.request({"op": "ping"}, timeout=1.0)
    ...     finally:
    ...         conn.close()
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        self.port = port
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, port: int, timeout: float = 1.0) -> Connection:
        """Connect to ``127.0.0.1:port``.

        Parameters
        ----------
        port : int
            The peer's TCP port.
        timeout : float, default=1.0
            Seconds to wait for the connection.

        Returns
        -------
        Connection

        Raises
        ------
        RuntimeFailure
            If the connection is refused or does not open in time.
        """
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, port, limit=LINE_LIMIT), timeout
            )
        except (OSError, TimeoutError) as err:
            raise RuntimeFailure(
                f"cannot connect to {HOST}:{port} within {timeout:g} s "
                f"({type(err).__name__}: {err}); is the process listening there alive?"
            ) from err
        return cls(reader, writer, port)

    @property
    def closed(self) -> bool:
        """Whether the connection was closed, by :meth:`close` or by a failure."""
        return self._closed or self._writer.is_closing()

    async def request(
        self, msg: dict[str, Any], timeout: float = 1.0
    ) -> dict[str, Any]:
        """Send `msg` and return the reply.

        Parameters
        ----------
        msg : dict
            The request.
        timeout : float, default=1.0
            Seconds to wait for the reply (waiting for the connection's
            previous request counts too).

        Returns
        -------
        dict
            The reply, error replies included.

        Raises
        ------
        RuntimeFailure
            If the connection is closed, fails, or no reply comes in time;
            the connection is then closed.
        """
        if self.closed:
            raise RuntimeFailure(
                f"connection to {HOST}:{self.port} is closed; open a new one"
            )
        try:
            async with asyncio.timeout(timeout), self._lock:
                await send(self._writer, msg)
                return await recv(self._reader)
        except TimeoutError as err:
            self.close()
            raise RuntimeFailure(
                f"no reply from {HOST}:{self.port} to {msg.get('op')!r} within "
                f"{timeout:g} s; the peer is hung or overloaded"
            ) from err
        except (OSError, RuntimeFailure) as err:
            self.close()
            raise RuntimeFailure(
                f"request {msg.get('op')!r} to {HOST}:{self.port} failed: {err}"
            ) from err
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._writer.close()
