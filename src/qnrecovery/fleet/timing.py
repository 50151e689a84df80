"""How long a simulated recovery takes: a model built from measured steps.

A recovery in the fleet simulation is the sum of its steps, each drawn from a
log-normal distribution given by its median and its log-space spread
``sigma`` (the ratio p99 / median of a step is ``exp(2.326 * sigma)``)::

    hot   = detect + promote_hot
    warm  = detect + promote_warm
    cold  = detect + [wait for a launcher] + start_cold + restore_cold

``promote_*`` covers promotion, the router switch and the first answer of
the new primary; ``promote_warm`` includes the replay of the log tail the
warm standby had not applied yet. A failed attempt costs ``attempt_timeout_ms``
(the recovery engine's promotion and verification timeouts) before the next
standby is tried.

The defaults reproduce the totals that ``benchmarks/run_recovery.py``
measured on the real drill (docs/benchmarks.md, 20 SIGKILLs per strategy
on a 2-core machine): hot p50 7.9 ms / p99 13.6 ms, warm 7.2 / 16.8 ms,
cold 124 / 209 ms. That benchmark measures whole recoveries only, so the
split between detection and the later steps is an assumption; the sums are
what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qnrecovery.exceptions import ConfigError

__all__ = ["RecoveryTimeModel", "Step"]


@dataclass(frozen=True)
class Step:
    """One step of a recovery: log-normal with a median and a spread.

    Parameters
    ----------
    median_ms : float
        Median duration in milliseconds, > 0.
    sigma : float, default=0.25
        Standard deviation of the logarithm of the duration, >= 0 (0 makes the
        step take exactly ``median_ms``).
    """

    median_ms: float
    sigma: float = 0.25

    def check(self, name: str) -> None:
        """Raise :class:`ConfigError` if the step is not usable."""
        if not (np.isfinite(self.median_ms) and self.median_ms > 0):
            raise ConfigError(
                f"`median_ms` of recovery step {name!r} must be a positive number "
                f"of milliseconds; got {self.median_ms!r}."
            )
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ConfigError(
                f"`sigma` of recovery step {name!r} must be a finite number >= 0; "
                f"got {self.sigma!r}."
            )

    def sample(self, rng: np.random.Generator) -> float:
        """One duration in milliseconds."""
        return float(self.median_ms * np.exp(self.sigma * rng.standard_normal()))


@dataclass(frozen=True)
class RecoveryTimeModel:
    """Durations of the steps of a simulated recovery.

    Parameters
    ----------
    detect : Step, default=Step(1.0, 0.5)
        From the fault to the suspicion (a process exit seen by the
        supervisor).
    promote_hot : Step, default=Step(6.7, 0.26)
    promote_warm : Step, default=Step(5.9, 0.42)
    start_cold : Step, default=Step(110.0, 0.24)
        Starting a fresh worker process.
    restore_cold : Step, default=Step(12.0, 0.3)
        Loading the newest verified snapshot into it.
    attempt_timeout_ms : float, default=500
        What a failed attempt costs before the next standby is tried.
    attempt_failure : dict of str to float, default={}
        Probability that an attempt with a standby kind (``hot``, ``warm``,
        ``cold``) fails; missing kinds never fail. The drill's benchmark saw
        no failed attempt in 60, so the default assumes none.

    Examples
    --------
    >>> import numpy as np
    >>> model = RecoveryTimeModel()
    >>> ms = model.activation_ms("hot", np.random.default_rng(0))
    >>> 0 < ms < 100
    True
    """

    detect: Step = Step(1.0, 0.5)
    promote_hot: Step = Step(6.7, 0.26)
    promote_warm: Step = Step(5.9, 0.42)
    start_cold: Step = Step(110.0, 0.24)
    restore_cold: Step = Step(12.0, 0.3)
    attempt_timeout_ms: float = 500.0
    attempt_failure: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ConfigError` if a parameter is out of range."""
        for name in ("detect", "promote_hot", "promote_warm", "start_cold"):
            getattr(self, name).check(name)
        self.restore_cold.check("restore_cold")
        if not (np.isfinite(self.attempt_timeout_ms) and self.attempt_timeout_ms > 0):
            raise ConfigError(
                "`attempt_timeout_ms` of RecoveryTimeModel must be a positive "
                f"number; got {self.attempt_timeout_ms!r}."
            )
        for kind, p in self.attempt_failure.items():
            if kind not in ("hot", "warm", "cold"):
                raise ConfigError(
                    f"`attempt_failure` of RecoveryTimeModel has unknown standby "
                    f"kind {kind!r}; expected hot, warm or cold."
                )
            if not 0.0 <= p <= 1.0:
                raise ConfigError(
                    f"`attempt_failure[{kind!r}]` of RecoveryTimeModel must lie in "
                    f"[0, 1]; got {p!r}."
                )

    def detect_ms(self, rng: np.random.Generator) -> float:
        """Time from the fault to the suspicion, in milliseconds."""
        return self.detect.sample(rng)

    def activation_ms(self, kind: str, rng: np.random.Generator) -> float:
        """Time to bring a standby of ``kind`` into service, in milliseconds.

        Excludes detection and any wait for a launcher.
        """
        if kind == "hot":
            return self.promote_hot.sample(rng)
        if kind == "warm":
            return self.promote_warm.sample(rng)
        return self.start_cold.sample(rng) + self.restore_cold.sample(rng)

    def fails(self, kind: str, rng: np.random.Generator) -> bool:
        """Whether one attempt with ``kind`` fails."""
        p = self.attempt_failure.get(kind, 0.0)
        return p > 0.0 and bool(rng.random() < p)
