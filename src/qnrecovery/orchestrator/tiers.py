"""Service tiers, their recovery-time objectives and default standbys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["TIERS", "StandbyKind", "TierSpec", "tier_spec"]


class StandbyKind(StrEnum):
    """How ready a standby is when its primary fails."""

    HOT = "hot"
    """Running, applies every write before the primary acknowledges it."""
    WARM = "warm"
    """Running, restored from a snapshot and fed the log asynchronously."""
    COLD = "cold"
    """Not running; started from the newest verified snapshot on demand."""


@dataclass(frozen=True)
class TierSpec:
    """A tier's recovery-time objective and the standbys it gets by default.

    Parameters
    ----------
    name : str
        One of ``ultra-critical``, ``critical``, ``important``, ``standard``.
    objective_ms : float
        Recovery-time objective in milliseconds.
    standbys : tuple of StandbyKind
        Standbys in the order the recovery engine tries them.
    weight : float
        Relative importance, used by placers to weight latency and risk.
    """

    name: str
    objective_ms: float
    standbys: tuple[StandbyKind, ...]
    weight: float


TIERS: dict[str, TierSpec] = {
    "ultra-critical": TierSpec(
        "ultra-critical", 100.0, (StandbyKind.HOT, StandbyKind.WARM), 8.0
    ),
    "critical": TierSpec("critical", 500.0, (StandbyKind.HOT,), 4.0),
    "important": TierSpec("important", 1000.0, (StandbyKind.WARM,), 2.0),
    "standard": TierSpec("standard", 2000.0, (StandbyKind.COLD,), 1.0),
}


def tier_spec(name: str) -> TierSpec:
    """Return the specification of tier ``name``.

    Raises
    ------
    ConfigError
        If ``name`` is not a known tier.
    """
    from qnrecovery.exceptions import ConfigError

    try:
        return TIERS[name]
    except KeyError:
        allowed = ", ".join(TIERS)
        raise ConfigError(
            f"Unknown tier {name!r}; expected one of {allowed}."
        ) from None
