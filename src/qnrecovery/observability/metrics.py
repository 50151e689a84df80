"""Prometheus metrics of the recovery engine, served over HTTP.

:class:`MetricsExporter` is an event sink: it counts recoveries by tier and
outcome, suspicions by reason, preparations by level, escalations and
objective misses, and keeps a histogram of recovery durations per tier
(buckets from 1 ms to 10 s). Its metrics live in their own
``CollectorRegistry``, never the process-wide default, so two exporters (or
tests) do not collide.

Examples
--------
>>> exporter = MetricsExporter(port=0)
>>> port = exporter.start()  # doctest: +SKIP
>>> # curl http://127.0.0.1:<port>/metrics
>>> exporter.stop()
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest, start_http_server

from qnrecovery.exceptions import ConfigError, PortInUseError
from qnrecovery.orchestrator.events import RecoveryEvent

__all__ = ["DURATION_BUCKETS_S", "MetricsExporter"]

logger = logging.getLogger(__name__)

#: Recovery-duration histogram buckets, in seconds (1 ms to 10 s).
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)


class MetricsExporter:
    """Event sink exporting Prometheus metrics, with its own HTTP endpoint.

    Parameters
    ----------
    host : str, default="127.0.0.1"
        Address to bind. Binding another address exposes the metrics to the
        network; do so only behind a firewall.
    port : int, default=9464
        TCP port; 0 lets the system pick a free one (:attr:`port` tells
        which, after :meth:`start`).
    namespace : str, default="qnrecovery"
        Prefix of every metric name.

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        The exporter's own registry.
    port : int or None
        The bound port while the endpoint runs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
        namespace: str = "qnrecovery",
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._build(namespace)

    def __repr__(self) -> str:
        return f"MetricsExporter(host={self.host!r}, port={self.requested_port!r})"

    def _build(self, ns: str) -> None:
        registry = self.registry
        self.recoveries = Counter(
            "recoveries",
            "Recoveries by tier, outcome and standby kind used.",
            ["tier", "outcome", "standby"],
            namespace=ns,
            registry=registry,
        )
        self.duration = Histogram(
            "recovery_duration_seconds",
            "Time from the fault to the new primary's first answer, by tier.",
            ["tier"],
            namespace=ns,
            registry=registry,
            buckets=DURATION_BUCKETS_S,
        )
        self.suspicions = Counter(
            "suspicions",
            "Components suspected of failure, by reason.",
            ["tier", "reason"],
            namespace=ns,
            registry=registry,
        )
        self.preparations = Counter(
            "preparations",
            "Preparations by tier and level.",
            ["tier", "level"],
            namespace=ns,
            registry=registry,
        )
        self.drains = Counter(
            "drains", "Components drained.", ["tier"], namespace=ns, registry=registry
        )
        self.escalations = Counter(
            "escalations",
            "Recovery attempts that failed and passed on to the next standby.",
            ["tier", "standby"],
            namespace=ns,
            registry=registry,
        )
        self.objective_misses = Counter(
            "objective_misses",
            "Recoveries slower than their tier's objective.",
            ["tier"],
            namespace=ns,
            registry=registry,
        )

    def emit(self, event: RecoveryEvent) -> None:
        """Count one event."""
        tier, reason = event.tier, event.reason or "unknown"
        if event.kind == "recovered":
            self.recoveries.labels(tier, "recovered", reason).inc()
            if event.duration_s is not None:
                self.duration.labels(tier).observe(event.duration_s)
        elif event.kind == "unrecovered":
            self.recoveries.labels(tier, "unrecovered", "none").inc()
        elif event.kind == "suspected":
            self.suspicions.labels(tier, reason).inc()
        elif event.kind == "prepared":
            self.preparations.labels(tier, reason).inc()
        elif event.kind == "drained":
            self.drains.labels(tier).inc()
        elif event.kind == "escalated":
            self.escalations.labels(tier, reason).inc()
        elif event.kind == "objective-missed":
            self.objective_misses.labels(tier).inc()

    def exposition(self) -> str:
        """The metrics in the Prometheus text format, as a scrape returns them."""
        return generate_latest(self.registry).decode("utf-8")

    def start(self) -> int:
        """Serve ``/metrics`` in a background thread; return the bound port.

        Raises
        ------
        PortInUseError
            If the port is taken.
        ConfigError
            If the port is out of range.
        """
        if self._server is not None:
            return int(self.port or 0)
        if not 0 <= self.requested_port <= 65535:
            raise ConfigError(
                f"`port` of MetricsExporter must lie in 0..65535; got "
                f"{self.requested_port!r}."
            )
        try:
            server, thread = start_http_server(
                self.requested_port, addr=self.host, registry=self.registry
            )
        except OSError as err:
            raise PortInUseError(
                f"Cannot serve metrics on {self.host}:{self.requested_port} "
                f"({err}); choose another port, or 0 for any free one."
            ) from err
        self._server, self._thread = server, thread
        self.port = int(server.server_address[1])
        logger.info("Serving metrics on http://%s:%d/metrics", self.host, self.port)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the endpoint (if running) and release its port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None
        self.port = None

    def close(self) -> None:
        """Same as :meth:`stop`."""
        self.stop()
