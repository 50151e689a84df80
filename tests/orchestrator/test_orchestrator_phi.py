"""The phi-accrual detector on synthetic heartbeat arrival times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.phi import PhiAccrualDetector


def fed(intervals: list[float] | np.ndarray, **options: float) -> PhiAccrualDetector:
    """A detector that saw heartbeats with these inter-arrival times."""
    detector = PhiAccrualDetector(**options)  # type: ignore[arg-type]
    t = 0.0
    detector.heartbeat(t)
    for dt in intervals:
        t += float(dt)
        detector.heartbeat(t)
    return detector


def test_phi_grows_with_silence_and_matches_the_normal_tail() -> None:
    detector = fed([0.02] * 50, min_std_s=0.005)
    last = detector.last_arrival
    assert last is not None
    levels = [detector.phi(last + dt) for dt in (0.0, 0.02, 0.03, 0.04, 0.06)]
    assert levels == sorted(levels) and levels[0] < 0.01
    # One standard deviation past the mean: P(later) = 0.1587.
    assert detector.phi(last + 0.025) == pytest.approx(-math.log10(0.158655), 1e-4)
    assert not detector.suspect(last + 0.03)
    assert detector.suspect(last + 0.06)


def test_phi_adapts_to_jitter() -> None:
    rng = np.random.default_rng(0)
    steady = fed([0.02] * 100, min_std_s=0.001)
    jittery = fed(rng.normal(0.02, 0.01, 100).clip(0.001), min_std_s=0.001)
    # The same silence is far more suspicious when heartbeats were regular.
    assert steady.phi(steady.last_arrival + 0.05) > 8.0  # type: ignore[operator]
    assert jittery.phi(jittery.last_arrival + 0.05) < 3.0  # type: ignore[operator]
    assert jittery.time_to_suspect() > steady.time_to_suspect()


def test_acceptable_pause_delays_suspicion_by_that_much() -> None:
    plain = fed([0.02] * 30, min_std_s=0.005)
    tolerant = fed([0.02] * 30, min_std_s=0.005, acceptable_pause_s=0.3)
    pause = 0.25
    assert plain.suspect(plain.last_arrival + pause)  # type: ignore[operator]
    assert not tolerant.suspect(tolerant.last_arrival + pause)  # type: ignore[operator]
    assert tolerant.time_to_suspect() == pytest.approx(
        plain.time_to_suspect() + 0.3, abs=1e-6
    )


def test_window_keeps_only_recent_intervals() -> None:
    detector = fed([0.5] * 10 + [0.02] * 20, window=20, min_std_s=0.001)
    mean, std = detector.stats()
    assert mean == pytest.approx(0.02) and std == pytest.approx(0.001)


def test_huge_silence_gives_finite_phi_and_no_heartbeat_gives_zero() -> None:
    detector = fed([0.02] * 10, min_std_s=0.001)
    assert math.isfinite(detector.phi(1e6)) and detector.phi(1e6) > 1e3
    assert PhiAccrualDetector().phi(123.0) == 0.0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"threshold": 0.0}, "threshold"),
        ({"window": 1}, "window"),
        ({"min_std_s": 0.0}, "min_std_s"),
        ({"acceptable_pause_s": -1.0}, "acceptable_pause_s"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PhiAccrualDetector(**options)  # type: ignore[arg-type]
