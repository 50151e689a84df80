"""The phi-accrual failure detector (Hayashibara et al., 2004).

Instead of a yes/no time-out, the detector gives a suspicion level
``phi = -log10(P(a heartbeat arrives later than now))``, estimated from the
recent inter-arrival times of heartbeats, modelled as a normal distribution.
``phi = 1`` means a 10 % chance that the silence is normal, ``phi = 8`` one in
10^8. A component is suspected once phi reaches the threshold.

``acceptable_pause_s`` is added to the mean interval: a pause up to that long
(a garbage collection, a paused virtual machine) raises phi only slowly, so it
does not trigger a failover. ``min_std_s`` keeps the distribution from
collapsing when heartbeats arrive like clockwork.

Time is whatever the caller passes in (``time.monotonic()`` in the recovery
engine, simulated time in tests), so the detector never reads a clock.

Examples
--------
>>> from qnrecovery.orchestrator.phi import PhiAccrualDetector
>>> detector = PhiAccrualDetector(threshold=8.0, min_std_s=0.005)
>>> for t in (0.0, 0.02, 0.04, 0.06):
...     detector.heartbeat(t)
>>> detector.phi(0.07) < 1.0
True
>>> detector.suspect(0.2)
True
"""

from __future__ import annotations

import math
from collections import deque

from qnrecovery.exceptions import ConfigError

__all__ = ["PhiAccrualDetector"]


class PhiAccrualDetector:
    """Suspicion level of one monitored process from its heartbeat times.

    Parameters
    ----------
    threshold : float, default=8.0
        Phi at or above which the process is suspected.
    window : int, default=100
        Inter-arrival times kept for the estimate.
    min_std_s : float, default=0.005
        Floor of the standard deviation, in seconds.
    acceptable_pause_s : float, default=0.0
        Pause tolerated on top of the mean interval, in seconds.
    first_interval_s : float, default=0.02
        Interval assumed before a second heartbeat arrived, in seconds.

    Attributes
    ----------
    last_arrival : float or None
        Time of the newest heartbeat.
    """

    def __init__(
        self,
        *,
        threshold: float = 8.0,
        window: int = 100,
        min_std_s: float = 0.005,
        acceptable_pause_s: float = 0.0,
        first_interval_s: float = 0.02,
    ) -> None:
        if not threshold > 0 or not math.isfinite(threshold):
            raise ConfigError(
                f"threshold of PhiAccrualDetector must be a positive number; got "
                f"{threshold!r}"
            )
        if window < 2:
            raise ConfigError(
                f"window of PhiAccrualDetector must be at least 2; got {window!r}"
            )
        if min_std_s <= 0 or acceptable_pause_s < 0 or first_interval_s <= 0:
            raise ConfigError(
                "min_std_s and first_interval_s of PhiAccrualDetector must be "
                "positive and acceptable_pause_s non-negative; got "
                f"{min_std_s!r}, {first_interval_s!r}, {acceptable_pause_s!r}"
            )
        self.threshold = threshold
        self.window = window
        self.min_std_s = min_std_s
        self.acceptable_pause_s = acceptable_pause_s
        self.first_interval_s = first_interval_s
        self.last_arrival: float | None = None
        self._intervals: deque[float] = deque(maxlen=window)

    def heartbeat(self, now: float) -> None:
        """Record a heartbeat that arrived at `now`."""
        if self.last_arrival is not None and now >= self.last_arrival:
            self._intervals.append(now - self.last_arrival)
        self.last_arrival = now

    def stats(self) -> tuple[float, float]:
        """Mean and standard deviation (floored) of the intervals, in seconds."""
        if not self._intervals:
            return self.first_interval_s, max(self.min_std_s, self.first_interval_s / 4)
        n = len(self._intervals)
        mean = sum(self._intervals) / n
        var = sum((x - mean) ** 2 for x in self._intervals) / n
        return mean, max(self.min_std_s, math.sqrt(var))

    def phi(self, now: float) -> float:
        """Suspicion level at `now`; 0 before the first heartbeat."""
        if self.last_arrival is None:
            return 0.0
        elapsed = max(0.0, now - self.last_arrival)
        mean, std = self.stats()
        z = (elapsed - mean - self.acceptable_pause_s) / std
        # P(interval > elapsed) for a normal distribution, in log space for
        # large z where 1 - CDF underflows.
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))
        if tail > 1e-300:
            return -math.log10(tail)
        return (z * z / 2 + math.log(z * math.sqrt(2 * math.pi))) / math.log(10)

    def suspect(self, now: float) -> bool:
        """Whether phi at `now` reached the threshold."""
        return self.phi(now) >= self.threshold

    def time_to_suspect(self) -> float:
        """Seconds after the last heartbeat at which phi reaches the threshold."""
        mean, std = self.stats()
        lo, hi = 0.0, mean + self.acceptable_pause_s + 100 * std
        base = self.last_arrival or 0.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.phi(base + mid) >= self.threshold:
                hi = mid
            else:
                lo = mid
        return hi
