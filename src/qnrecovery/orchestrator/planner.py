"""The planner: from a failure probability to a preparation level.

Below ``prepare`` a component is only monitored; from ``prepare`` on it is
prepared gradually (fresh snapshot, a warm standby); from ``immediate`` on it
is prepared at once (a warm standby is made hot). Predictions are judged by
precision as well as recall: every preparation no fault followed is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from qnrecovery.exceptions import ConfigError

__all__ = [
    "FaultOutcome",
    "Planner",
    "PredictionReview",
    "Preparation",
    "PrepareLevel",
]


class PrepareLevel(IntEnum):
    """How far the planner prepares a component."""

    MONITOR = 0
    GRADUAL = 1
    IMMEDIATE = 2


@dataclass(frozen=True)
class Preparation:
    """A run of rows during which the planner kept a component prepared.

    Attributes
    ----------
    start_row, end_row : int
        First and last row (inclusive) of the run.
    level : PrepareLevel
        Highest level reached during the run.
    needed : bool
        Whether a fault happened during the run or within the horizon after it.
    """

    start_row: int
    end_row: int
    level: PrepareLevel
    needed: bool


@dataclass(frozen=True)
class FaultOutcome:
    """Whether a fault was predicted, and how early.

    Attributes
    ----------
    fault_row : int
        Row at whose start the fault happens (one past the anomaly's last row).
    predicted : bool
        Whether a row within the horizon before the fault was prepared.
    lead_rows : int
        Rows between the first such prepared row and the fault (0 if not
        predicted).
    level : PrepareLevel
        Highest level reached within the horizon before the fault.
    """

    fault_row: int
    predicted: bool
    lead_rows: int
    level: PrepareLevel


@dataclass(frozen=True)
class PredictionReview:
    """Outcome of every fault and every preparation of one component."""

    faults: list[FaultOutcome] = field(default_factory=list)
    preparations: list[Preparation] = field(default_factory=list)


@dataclass(frozen=True)
class Planner:
    """Maps a failure probability to a :class:`PrepareLevel`.

    Parameters
    ----------
    prepare : float, default=0.5
    immediate : float, default=0.8
    horizon_rows : int, default=12
        A preparation is needed if a fault follows within this many rows.
    drain : bool, default=True
        At :attr:`PrepareLevel.IMMEDIATE`, also drain the component: its
        reads go to the hot standby.
    """

    prepare: float = 0.5
    immediate: float = 0.8
    horizon_rows: int = 12
    drain: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.prepare <= self.immediate <= 1.0:
            raise ConfigError(
                "Planner thresholds must satisfy 0 < prepare <= immediate <= 1; "
                f"got prepare={self.prepare}, immediate={self.immediate}."
            )
        if self.horizon_rows < 1:
            raise ConfigError(
                f"Planner horizon_rows must be >= 1; got {self.horizon_rows}."
            )

    def level(self, probability: float) -> PrepareLevel:
        """Preparation level for one probability."""
        if probability >= self.immediate:
            return PrepareLevel.IMMEDIATE
        if probability >= self.prepare:
            return PrepareLevel.GRADUAL
        return PrepareLevel.MONITOR

    def levels(self, probabilities: np.ndarray) -> np.ndarray:
        """Preparation level of every row, as integers."""
        p = np.asarray(probabilities, dtype=float)
        return np.where(
            p >= self.immediate, 2, np.where(p >= self.prepare, 1, 0)
        ).astype(np.int8)

    def review(
        self, probabilities: np.ndarray, fault_rows: Sequence[int]
    ) -> PredictionReview:
        """Judge a component's probabilities against the faults that happened.

        Parameters
        ----------
        probabilities : ndarray of shape (T,)
            Failure probability after each row.
        fault_rows : sequence of int
            Rows at whose start a fault happened.
        """
        levels = self.levels(probabilities)
        faults = sorted(int(f) for f in fault_rows)
        outcomes = [self._fault_outcome(levels, f) for f in faults]
        preparations = [
            Preparation(
                start,
                end,
                PrepareLevel(int(levels[start : end + 1].max())),
                self._needed(start, end, faults),
            )
            for start, end in _runs(levels > 0)
        ]
        return PredictionReview(outcomes, preparations)

    def _fault_outcome(self, levels: np.ndarray, fault_row: int) -> FaultOutcome:
        first = max(0, fault_row - self.horizon_rows)
        window = levels[first:fault_row]
        prepared = np.flatnonzero(window > 0)
        if prepared.size == 0:
            return FaultOutcome(fault_row, False, 0, PrepareLevel.MONITOR)
        lead = int(fault_row - (first + prepared[0]))
        return FaultOutcome(fault_row, True, lead, PrepareLevel(int(window.max())))

    def _needed(self, start: int, end: int, faults: list[int]) -> bool:
        return any(start < f <= end + self.horizon_rows for f in faults)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of every run of true values."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]
