"""Spike encoders: delta (step-forward), level crossing and rate coding."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.neuromorphic.encoders import (
    LevelCrossingEncoder,
    RateEncoder,
    StepForwardEncoder,
)


def noise(seed: int = 0, rows: int = 300, metrics: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, metrics))


def test_step_forward_up_and_down_spikes():
    encoder = StepForwardEncoder(n_levels=3, step_factor=2.0, adapt_tau=50 * ms)
    train = noise(metrics=1)
    state = encoder.fit(train)
    _, state = encoder.encode(train, state)
    spikes, _ = encoder.encode(np.array([[40.0], [-40.0]]), state)
    assert spikes.shape == (2, 1, 6)
    assert spikes[0, 0, :3].all() and not spikes[0, 0, 3:].any()  # all up levels
    assert spikes[1, 0, 3:].all() and not spikes[1, 0, :3].any()  # all down levels


def test_step_forward_small_moves_fire_fewer_levels():
    encoder = StepForwardEncoder(n_levels=4, step_factor=1.0, min_step=1e-3)
    state = encoder.fit(np.zeros(10))
    state = {**state, "move": np.array([1.0])}  # typical move of 1
    spikes, _ = encoder.encode(np.array([2.5]), state)
    assert spikes[0, 0].tolist() == [True, True, False, False] + [False] * 4


def test_step_adapts_to_larger_moves():
    encoder = StepForwardEncoder(adapt_tau=20 * ms)
    state = encoder.fit(noise(metrics=1))
    _, calm = encoder.encode(noise(1, metrics=1), state)
    _, wild = encoder.encode(10 * noise(1, metrics=1), state)
    assert wild["move"][0] > 5 * calm["move"][0]


def test_constant_input_gives_no_spikes():
    encoder = StepForwardEncoder()
    constant = np.full((50, 3), 2.0)
    spikes, _ = encoder.encode(constant, encoder.fit(constant))
    assert not spikes.any()
    level = LevelCrossingEncoder()
    spikes, _ = level.encode(constant, level.fit(constant))
    assert not spikes.any()


@pytest.mark.parametrize(
    "encoder",
    [StepForwardEncoder(), LevelCrossingEncoder(), RateEncoder()],
    ids=["step-forward", "level", "rate"],
)
def test_streaming_equals_batch(encoder):
    train, test = noise(0), noise(1, rows=40)
    state = encoder.fit(train)
    batch, end = encoder.encode(test, state)
    parts = []
    for row in test:
        spikes, state = encoder.encode(row[None, :], state)
        parts.append(spikes)
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    for key in end:
        np.testing.assert_array_equal(state[key], end[key])


def test_level_crossing_fires_on_entering_a_bin():
    encoder = LevelCrossingEncoder(n_bins=4, margin=0.0)
    state = encoder.fit(np.array([0.0, 4.0]))  # bins of width 1 over [0, 4]
    spikes, _ = encoder.encode(np.array([0.5, 0.6, 2.5, 9.0, -3.0]), state)
    fired = [np.flatnonzero(s[0]).tolist() for s in spikes]
    # channel 0 is "below", 1-4 the bins, 5 "above"; the start bin is row 0's.
    assert fired == [[], [], [3], [5], [0]]


def test_rate_code_follows_the_value():
    encoder = RateEncoder(n_fields=3, max_rate=500 * Hz)
    state = encoder.fit(np.array([0.0, 1.0]))
    at_low = np.zeros(200)
    spikes, _ = encoder.encode(at_low, state)
    counts = spikes[:, 0].sum(axis=0)
    assert counts[0] == 100  # 500 Hz for 200 rows of 1 ms
    assert counts[0] > counts[1] > counts[2]
    np.testing.assert_allclose(encoder.rates(np.array([0.0]))[0, 0, 0], 0.5)


@pytest.mark.parametrize(
    ("encoder", "match"),
    [
        (StepForwardEncoder(adapt_tau=5), "`adapt_tau` of `StepForwardEncoder`"),
        (StepForwardEncoder(adapt_tau=-5 * ms), "positive time"),
        (StepForwardEncoder(dt=0 * ms), "`dt` of `StepForwardEncoder`"),
        (StepForwardEncoder(n_levels=0), "`n_levels`.*>= 1"),
        (StepForwardEncoder(step_factor=-1.0), "`step_factor`"),
        (LevelCrossingEncoder(n_bins=0), "`n_bins`"),
        (RateEncoder(max_rate=5 * ms), "`max_rate` of `RateEncoder`"),
        (RateEncoder(max_rate=5000 * Hz), "at most 1 / dt"),
    ],
)
def test_bad_parameters_are_named(encoder, match):
    with pytest.raises(ConfigError, match=match):
        encoder.fit(noise())


def test_bad_rows_are_refused():
    encoder = StepForwardEncoder()
    with pytest.raises(DataError, match="finite"):
        encoder.fit(np.array([1.0, np.nan]))
    with pytest.raises(DataError, match="at least one row"):
        encoder.fit(np.empty((0, 2)))
