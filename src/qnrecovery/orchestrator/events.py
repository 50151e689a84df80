"""Events the orchestrator emits, and the sinks that receive them.

The recovery engine tells every registered sink what happens to a component:
a suspicion, a preparation, a recovery (with its duration and tier), an
escalation to the next standby, a recovery that failed for good or missed its
objective. Metrics exporters, notifiers and the threshold calibrator are
sinks; they never block the engine for long, and an exception inside a sink is
logged and ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["EVENT_KINDS", "EventKind", "EventSink", "RecoveryEvent", "emit"]

logger = logging.getLogger(__name__)

EventKind = Literal[
    "suspected",
    "prepared",
    "drained",
    "recovered",
    "escalated",
    "unrecovered",
    "objective-missed",
]

#: Every event kind, in the order they usually happen.
EVENT_KINDS: tuple[EventKind, ...] = (
    "suspected",
    "prepared",
    "drained",
    "recovered",
    "escalated",
    "unrecovered",
    "objective-missed",
)


@dataclass(frozen=True)
class RecoveryEvent:
    """One thing that happened to a component.

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    component : str
        The component's name.
    tier : str
        Its tier (``ultra-critical``, ``critical``, ``important``, ``standard``).
    wall_time : float
        ``time.time()`` when the event was emitted.
    duration_s : float or None
        For ``recovered`` and ``objective-missed``: the recovery time.
    reason : str
        Why: the detector that suspected, the standby kind used, the error.
    detail : dict
        Anything else worth keeping (fault kind, standby kind, probability).
    """

    kind: EventKind
    component: str
    tier: str
    wall_time: float = field(default_factory=time.time)
    duration_s: float | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class EventSink(Protocol):
    """Receives every :class:`RecoveryEvent`; must return quickly."""

    def emit(self, event: RecoveryEvent) -> None: ...


def emit(sinks: Iterable[EventSink], event: RecoveryEvent) -> None:
    """Give `event` to every sink; a failing sink is logged and skipped."""
    for sink in sinks:
        try:
            sink.emit(event)
        except Exception:
            logger.exception(
                "Event sink %r failed on a %s event for %s; continuing.",
                sink,
                event.kind,
                event.component,
            )
