"""The planner: probability thresholds, levels and the review of predictions."""

from __future__ import annotations

import numpy as np
import pytest

from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.planner import (
    FaultOutcome,
    Planner,
    Preparation,
    PrepareLevel,
)


@pytest.mark.parametrize(
    ("probability", "level"),
    [
        (0.0, PrepareLevel.MONITOR),
        (0.4999, PrepareLevel.MONITOR),
        (0.5, PrepareLevel.GRADUAL),
        (0.7999, PrepareLevel.GRADUAL),
        (0.8, PrepareLevel.IMMEDIATE),
        (1.0, PrepareLevel.IMMEDIATE),
    ],
)
def test_level_at_and_around_the_thresholds(
    probability: float, level: PrepareLevel
) -> None:
    planner = Planner()
    assert planner.level(probability) is level
    assert planner.levels(np.array([probability]))[0] == int(level)


def test_levels_of_an_array() -> None:
    planner = Planner(prepare=0.3, immediate=0.6)
    levels = planner.levels(np.array([0.1, 0.3, 0.59, 0.6, 0.95]))
    assert levels.dtype == np.int8
    assert levels.tolist() == [0, 1, 1, 2, 2]


def test_review_of_hand_made_probabilities() -> None:
    planner = Planner(prepare=0.5, immediate=0.8, horizon_rows=3)
    p = np.zeros(20)
    p[[5, 6]] = [0.6, 0.9]  # prepared rows 5-6; the fault at row 8 follows
    p[14] = 0.55  # prepared row 14; no fault within 3 rows after it
    review = planner.review(p, [8, 12])

    assert review.faults == [
        FaultOutcome(8, True, 3, PrepareLevel.IMMEDIATE),
        FaultOutcome(12, False, 0, PrepareLevel.MONITOR),
    ]
    assert review.preparations == [
        Preparation(5, 6, PrepareLevel.IMMEDIATE, True),
        Preparation(14, 14, PrepareLevel.GRADUAL, False),
    ]


def test_review_horizon_edges() -> None:
    planner = Planner(horizon_rows=2)
    p = np.zeros(10)
    p[3] = 0.6
    # Fault 5 is exactly 2 rows after row 3; fault 6 is one row too late.
    assert planner.review(p, [5]).faults[0].predicted
    assert planner.review(p, [5]).preparations[0].needed
    assert not planner.review(p, [6]).faults[0].predicted
    assert not planner.review(p, [6]).preparations[0].needed
    # A preparation that starts on the fault's own row came too late.
    assert not planner.review(p, [3]).faults[0].predicted
    assert not planner.review(p, [3]).preparations[0].needed


def test_review_sorts_faults_and_handles_a_run_to_the_end() -> None:
    planner = Planner(horizon_rows=4)
    p = np.full(6, 0.9)
    review = planner.review(p, [5, 2])
    assert [f.fault_row for f in review.faults] == [2, 5]
    assert [f.lead_rows for f in review.faults] == [2, 4]
    assert review.preparations == [Preparation(0, 5, PrepareLevel.IMMEDIATE, True)]


def test_review_without_faults_or_preparations() -> None:
    planner = Planner()
    empty = planner.review(np.zeros(5), [])
    assert empty.faults == [] and empty.preparations == []
    unneeded = planner.review(np.full(5, 0.7), [])
    assert unneeded.preparations == [Preparation(0, 4, PrepareLevel.GRADUAL, False)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prepare": 0.0}, "0 < prepare <= immediate <= 1"),
        ({"prepare": 0.9, "immediate": 0.8}, "prepare=0.9, immediate=0.8"),
        ({"immediate": 1.5}, "immediate=1.5"),
        ({"horizon_rows": 0}, "horizon_rows must be >= 1; got 0"),
    ],
)
def test_invalid_thresholds_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Planner(**kwargs)
