"""Escalation to people: a webhook or a command for the events that need one.

:class:`Notifier` is an event sink. It passes on the events a person must
see (by default ``unrecovered``, when every standby failed, and
``objective-missed``) and drops the rest. Delivery runs in a background
thread fed by a bounded queue, so the recovery engine never waits on the
network: when the queue is full the event is dropped and logged.

A webhook gets a JSON ``POST`` (timeout per try, a bounded number of tries
with doubling pauses; any 2xx answer is a success). A command gets the same
JSON on its standard input and must exit with status 0 within the timeout.

JSON body::

    {"kind": "unrecovered", "component": "svc-3", "tier": "critical",
     "wall_time": 1767225600.0, "duration_s": null, "reason": "...",
     "detail": {...}, "source": "qnrecovery"}
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.events import RecoveryEvent

__all__ = ["DEFAULT_KINDS", "Notifier", "event_payload"]

logger = logging.getLogger(__name__)

#: Event kinds a notifier passes on unless told otherwise.
DEFAULT_KINDS: tuple[str, ...] = ("unrecovered", "objective-missed")

_STOP = object()


def event_payload(event: RecoveryEvent) -> dict[str, Any]:
    """The JSON body sent for ``event``."""
    body = asdict(event)
    body["source"] = "qnrecovery"
    return body


class Notifier:
    """Event sink that sends escalations to a webhook or a command.

    Exactly one of ``webhook_url`` and ``command`` must be given.

    Parameters
    ----------
    webhook_url : str, optional
        ``http://`` or ``https://`` URL that receives a JSON POST per event.
    command : sequence of str, optional
        Program and arguments (no shell); the event JSON arrives on stdin.
    timeout_s : float, default=5
        Per try (webhook) or per run (command).
    retries : int, default=3
        Further tries after a failed one; pauses of 0.5 s, 1 s, 2 s ...
    kinds : sequence of str, default=DEFAULT_KINDS
        Event kinds to pass on.
    queue_size : int, default=1000
        Events waiting for delivery; beyond it events are dropped.

    Attributes
    ----------
    delivered, failed, dropped : int
        Events delivered, given up on after every try, and dropped because
        the queue was full.

    Examples
    --------
    >>> notifier = Notifier(command=["logger", "-t", "qnrecovery"])  # doctest: +SKIP
    >>> notifier.emit(event)  # doctest: +SKIP
    >>> notifier.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        command: Sequence[str] | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        kinds: Sequence[str] = DEFAULT_KINDS,
        queue_size: int = 1000,
        backoff_s: float = 0.5,
    ) -> None:
        _check(webhook_url, command, timeout_s, retries, queue_size)
        self.webhook_url = webhook_url
        self.command = list(command) if command is not None else None
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.kinds = frozenset(kinds)
        self.backoff_s = float(backoff_s)
        self.delivered = self.failed = self.dropped = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._idle = threading.Condition()
        self._pending = 0
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="qnrecovery-notifier", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        target = self.webhook_url or self.command
        return f"Notifier({target!r}, kinds={sorted(self.kinds)!r})"

    # -- the sink --------------------------------------------------------------

    def emit(self, event: RecoveryEvent) -> None:
        """Queue ``event`` for delivery if its kind is passed on; never blocks."""
        if event.kind not in self.kinds or self._closed:
            return
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._idle:
                self._pending -= 1
                self.dropped += 1
                self._idle.notify_all()
            logger.warning(
                "Notifier queue full; dropped the %s event of %s",
                event.kind,
                event.component,
            )

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to ``timeout``) and stop the thread."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    # -- delivery ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                ok = self._deliver(item)
            except Exception:  # a delivery bug must not kill the thread
                logger.exception("Notifier failed on the %s event", item.kind)
                ok = False
            with self._idle:
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
                self._pending -= 1
                self._idle.notify_all()

    def _deliver(self, event: RecoveryEvent) -> bool:
        body = json.dumps(event_payload(event), default=str).encode("utf-8")
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            error = self._post(body) if self.webhook_url else self._call(body)
            if error is None:
                logger.info(
                    "Notified %s of %s (%s)",
                    self._target(),
                    event.component,
                    event.kind,
                )
                return True
            logger.warning(
                "Notifying %s (try %d of %d) failed: %s",
                self._target(),
                attempt + 1,
                self.retries + 1,
                error,
            )
        logger.error(
            "Gave up notifying %s of the %s event of %s",
            self._target(),
            event.kind,
            event.component,
        )
        return False

    def _target(self) -> str:
        return self.webhook_url or " ".join(self.command or [])

    def _post(self, body: bytes) -> str | None:
        assert self.webhook_url is not None
        request = urllib.request.Request(
            self.webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "qnrecovery"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            return str(err)
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _call(self, body: bytes) -> str | None:
        assert self.command is not None
        try:
            done = subprocess.run(
                self.command,
                input=body,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {self.timeout_s} s"
        except OSError as err:
            return str(err)
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip()[-200:]
            return f"exit status {done.returncode}: {tail}"
        return None


def _check(
    webhook_url: str | None,
    command: Sequence[str] | None,
    timeout_s: float,
    retries: int,
    queue_size: int,
) -> None:
    if (webhook_url is None) == (command is None):
        raise ConfigError(
            "Notifier needs exactly one of webhook_url and command; got "
            f"webhook_url={webhook_url!r}, command={command!r}."
        )
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"`webhook_url` of Notifier must start with http:// or https://; "
            f"got {webhook_url!r}."
        )
    if command is not None and (
        isinstance(command, str) or not command or not all(command)
    ):
        raise ConfigError(
            "`command` of Notifier must be a non-empty list of program and "
            f"arguments (no shell string); got {command!r}."
        )
    if not timeout_s > 0:
        raise ConfigError(f"`timeout_s` of Notifier must be > 0; got {timeout_s!r}.")
    if not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            f"`retries` of Notifier must be an integer >= 0; got {retries!r}."
        )
    if not isinstance(queue_size, int) or queue_size < 1:
        raise ConfigError(
            f"`queue_size` of Notifier must be a positive integer; got {queue_size!r}."
        )
