"""Threshold calibration from recorded histories of predictions and failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.orchestrator.calibration import (
    CalibrationHistory,
    CalibrationRecorder,
    calibrate,
    load_calibration,
    save_calibration,
)
from qnrecovery.orchestrator.events import RecoveryEvent, emit
from qnrecovery.orchestrator.planner import Planner


def two_components() -> CalibrationHistory:
    """``a`` fails at t=3 after two rows at 0.9; 0.6 peaks are false alarms."""
    history = CalibrationHistory(period_s=1.0)
    history.add_series("a", np.arange(6.0), np.array([0.1, 0.9, 0.9, 0.1, 0.6, 0.1]))
    history.add_series("b", np.arange(4.0), np.array([0.3, 0.3, 0.6, 0.3]))
    history.add_failure("a", 3.0)
    return history


def test_the_lowest_threshold_meeting_the_target_is_chosen() -> None:
    # At <= 0.3: one needed run in a, one unneeded in b (waste 1/2).
    # At 0.31..0.6: a's 0.9 run (needed), a's and b's 0.6 (unneeded): 2/3.
    # At 0.61..0.9: only a's 0.9 run, needed: waste 0.
    result = calibrate(two_components(), 0.25, horizon_s=1.0)
    assert result.prepare == 0.61
    assert result.immediate == 0.61
    assert result.waste_rate == 0.0
    assert result.recall == 1.0
    assert result.preparations == 1 and result.unneeded == 0
    assert result.met and result.note == ""

    loose = calibrate(two_components(), 0.5, horizon_s=1.0, immediate_target=0.0)
    assert loose.prepare == 0.01 and loose.waste_rate == 0.5
    assert loose.immediate == 0.61 and loose.immediate_waste_rate == 0.0
    assert loose.planner_settings() == {"prepare": 0.01, "immediate": 0.61}


def test_a_failure_beyond_the_horizon_makes_the_preparation_waste() -> None:
    history = CalibrationHistory(period_s=1.0)
    history.add_series("a", np.arange(10.0), np.array([0.9, 0.9] + [0.0] * 8))
    history.add_failure("a", 6.0)  # 5 s after the run's last row
    assert calibrate(history, 0.0, horizon_s=5.0).waste_rate == 0.0
    short = calibrate(history, 0.0, horizon_s=4.0)
    assert short.waste_rate == 1.0 and not short.met
    assert "no threshold meets the waste target 0.0" in short.note
    assert short.recall == 0.0


def test_a_gap_in_the_predictions_splits_a_run() -> None:
    history = CalibrationHistory(period_s=1.0)
    for t in (0.0, 1.0, 5.0, 6.0):
        history.add_prediction("a", t, 0.9)
    history.add_failure("a", 7.0)
    result = calibrate(history, 1.0, horizon_s=1.0)
    assert result.preparations == 2 and result.unneeded == 1


def test_the_period_is_inferred_from_the_predictions() -> None:
    history = CalibrationHistory()
    history.add_series("a", np.arange(0.0, 50.0, 5.0), np.full(10, 0.5))
    assert history.period() == 5.0


def test_judging_matches_planner_review_threshold_by_threshold() -> None:
    from qnrecovery.orchestrator.calibration import _flatten, _judge

    rng = np.random.default_rng(7)
    n, horizon = 500, 12
    probabilities = rng.random(n)
    faults = sorted(rng.choice(np.arange(1, n), 8, replace=False).tolist())
    history = CalibrationHistory(period_s=1.0)
    history.add_series("c", np.arange(n, dtype=float), probabilities)
    for f in faults:
        history.add_failure("c", float(f))
    flat = _flatten(history, float(horizon))
    for threshold in (0.05, 0.3, 0.5, 0.8, 0.95):
        review = Planner(threshold, threshold, horizon).review(probabilities, faults)
        expected = (
            len(review.preparations),
            sum(not p.needed for p in review.preparations),
        )
        assert _judge(flat, threshold, float(horizon)) == expected


def test_a_history_without_failures_cannot_meet_a_target() -> None:
    history = CalibrationHistory(period_s=1.0)
    history.add_series("a", np.arange(5.0), np.array([0.2, 0.8, 0.2, 0.8, 0.2]))
    result = calibrate(history, 0.5, horizon_s=2.0)
    assert not result.met
    assert "holds no failure" in result.note
    assert result.recall is None
    assert 0 < result.prepare <= result.immediate <= 1


def test_bad_input_is_refused() -> None:
    with pytest.raises(DataError, match="holds no prediction"):
        calibrate(CalibrationHistory(period_s=1.0), 0.5, horizon_s=1.0)
    with pytest.raises(ConfigError, match="`target_waste_rate` of calibrate"):
        calibrate(two_components(), 1.5, horizon_s=1.0)
    with pytest.raises(ConfigError, match="`immediate_target` of calibrate"):
        calibrate(two_components(), 0.5, horizon_s=1.0, immediate_target=-0.1)
    with pytest.raises(ConfigError, match="`horizon_s` of calibrate"):
        calibrate(two_components(), 0.5, horizon_s=0.0)
    with pytest.raises(DataError, match="as many times as probabilities"):
        CalibrationHistory().add_series("a", np.arange(3.0), np.ones(2))
    history = CalibrationHistory()
    history.add_prediction("a", 1.0, 0.9)
    with pytest.raises(DataError, match="Cannot tell the prediction period"):
        calibrate(history, 0.5, horizon_s=1.0)


def test_calibration_and_history_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state" / "calibration.json"
    history = two_components()
    first = calibrate(history, 0.25, horizon_s=1.0)
    save_calibration(path, first, history)
    second = calibrate(history, 0.5, horizon_s=1.0)
    save_calibration(path, second, history)

    loaded, loaded_history = load_calibration(path)
    assert loaded == second
    assert loaded_history is not None
    assert loaded_history.predictions == history.predictions
    assert loaded_history.failures == history.failures
    data = json.loads(path.read_text())
    assert data["previous"] == [first.to_dict()]
    assert sorted(p.name for p in path.parent.iterdir()) == ["calibration.json"]


def test_a_corrupt_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="is not valid"):
        load_calibration(path)
    with pytest.raises(DataError, match="does not exist"):
        load_calibration(tmp_path / "missing.json")
    # Saving over a corrupt file replaces it.
    save_calibration(path, calibrate(two_components(), 0.5, horizon_s=1.0))
    assert load_calibration(path)[0] is not None


def test_the_recorder_learns_from_events_and_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    recorder = CalibrationRecorder(path, target_waste_rate=0.25, horizon_s=1.0)
    for t, p in enumerate([0.1, 0.9, 0.9, 0.1, 0.6, 0.1]):
        recorder.observe("a", p, when=float(t))
    for t, p in enumerate([0.3, 0.3, 0.6, 0.3]):
        recorder.observe("b", p, when=float(t))
    events = [
        RecoveryEvent("prepared", "a", "critical", wall_time=1.0, reason="immediate"),
        RecoveryEvent(
            "recovered", "a", "critical", duration_s=0.01, detail={"fault_time": 3.0}
        ),
        RecoveryEvent("objective-missed", "a", "critical", duration_s=0.9),
        RecoveryEvent("suspected", "b", "standard", reason="phi"),
    ]
    for event in events:
        emit([recorder], event)
    recorder.close()

    assert recorder.history.failures == {"a": [3.0]}
    assert recorder.history.preparations[0]["level"] == "immediate"
    assert recorder.calibration is not None
    assert recorder.calibration.prepare == 0.61
    saved, saved_history = load_calibration(path)
    assert saved == recorder.calibration

    again = CalibrationRecorder(path, horizon_s=1.0)
    assert again.history.failures == {"a": [3.0]}
    assert again.history.n_predictions == saved_history.n_predictions  # type: ignore[union-attr]


def test_the_recorder_needs_a_horizon_to_calibrate() -> None:
    recorder = CalibrationRecorder()
    recorder.observe_series("a", [0.0, 1.0], [0.5, 0.5], period_s=1.0)
    with pytest.raises(ConfigError, match="needs horizon_s"):
        recorder.calibrate()
    assert recorder.calibrate(horizon_s=1.0).failures == 0
