"""Observability: Prometheus metrics and escalation to people, as event sinks.

:func:`build_sinks` turns a drill's settings into the sinks it asks for: a
:class:`~qnrecovery.observability.metrics.MetricsExporter` (started), a
:class:`~qnrecovery.observability.notify.Notifier`, and a
:class:`~qnrecovery.orchestrator.calibration.CalibrationRecorder`. Close
them with :func:`close_sinks` when the drill ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from qnrecovery.orchestrator.events import EventSink

if TYPE_CHECKING:
    from qnrecovery.config import DrillConfig

__all__ = ["build_sinks", "close_sinks"]

logger = logging.getLogger(__name__)


def build_sinks(
    config: DrillConfig, *, period_s: float | None = None
) -> list[EventSink]:
    """The event sinks ``config`` asks for, ready to receive events.

    Parameters
    ----------
    config : DrillConfig
        Its ``metrics``, ``notifier`` and ``calibration`` settings.
    period_s : float, optional
        Seconds between two telemetry rows; with it the calibration recorder
        calibrates when closed (horizon = ``planner.horizon_rows`` rows).

    Returns
    -------
    list of EventSink
        Possibly empty. The metrics endpoint is already serving; its port is
        the exporter's ``port`` attribute.

    Raises
    ------
    PortInUseError
        If the metrics port is taken.
    """
    sinks: list[EventSink] = []
    try:
        if config.metrics.enabled:
            from qnrecovery.observability.metrics import MetricsExporter

            exporter = MetricsExporter(
                host=config.metrics.host, port=config.metrics.port
            )
            exporter.start()
            sinks.append(exporter)
        if config.notifier.enabled:
            from qnrecovery.observability.notify import Notifier

            sinks.append(
                Notifier(
                    webhook_url=config.notifier.webhook_url,
                    command=config.notifier.command,
                    timeout_s=config.notifier.timeout_s,
                    retries=config.notifier.retries,
                )
            )
        if config.calibration.path is not None:
            from qnrecovery.orchestrator.calibration import CalibrationRecorder

            horizon = (
                config.planner.horizon_rows * period_s if period_s is not None else None
            )
            sinks.append(
                CalibrationRecorder(
                    config.calibration.path,
                    target_waste_rate=config.calibration.target_waste_rate,
                    horizon_s=horizon,
                    period_s=period_s,
                )
            )
    except BaseException:
        close_sinks(sinks)
        raise
    return sinks


def close_sinks(sinks: Iterable[Any]) -> None:
    """Close every sink that can be closed; a failure is logged and skipped."""
    for sink in sinks:
        close = getattr(sink, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception:
            logger.exception("Closing event sink %r failed; continuing.", sink)
