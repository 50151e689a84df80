"""Spike encoders: turn metric rows into input spikes, one row per time step.

Every encoder works on rows ``(T, D)`` in time order and keeps a small state
(a dict of arrays), so a stream can be encoded piece by piece and gives the
same spikes as one batch. ``fit(X)`` learns the scales from normal rows and
returns the state to start encoding from (the state before the first row of
``X``); ``encode(X, state)`` returns the spikes,
a boolean array ``(T, D, channels)``, and the new state.

* :class:`StepForwardEncoder` — delta (step-forward) coding: a metric has
  ``n_levels`` "up" and ``n_levels`` "down" channels; when the value moves
  ``k`` steps away from the encoder's baseline, the first ``k`` channels of
  that direction spike and the baseline follows by ``k`` steps. The step
  adapts: it is ``step_factor`` times a running mean of the absolute change
  (time constant ``adapt_tau``), never below ``min_step`` times the training
  standard deviation.
* :class:`LevelCrossingEncoder` — a population of value bins over the training
  range (plus one bin below and one above it); the bin's channel spikes when
  the value enters it.
* :class:`RateEncoder` — rate coding: a population of Gaussian receptive
  fields over the training range, each firing at up to ``max_rate``; spikes
  come from a deterministic phase accumulator (a regular spike train whose
  rate follows the value), so the code is reproducible without a seed.

Time constants and rates carry Brian2 units and are checked when ``fit`` is
called.

Examples
--------
>>> import numpy as np
>>> from brian2 import ms
>>> from qnrecovery.neuromorphic.encoders import StepForwardEncoder
>>> encoder = StepForwardEncoder(n_levels=2, adapt_tau=50 * ms)
>>> train = np.sin(np.linspace(0, 20, 400))
>>> _, state = encoder.encode(train, encoder.fit(train))
>>> spikes, state = encoder.encode(np.array([[5.0]]), state)
>>> spikes.shape, bool(spikes[0, 0, :2].all())
((1, 1, 4), True)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from brian2 import Hz, Quantity, ms, second

from qnrecovery.exceptions import ConfigError, DataError

__all__ = [
    "LevelCrossingEncoder",
    "RateEncoder",
    "StepForwardEncoder",
    "as_rows",
]

State = dict[str, np.ndarray]


def as_rows(X: Any, owner: str) -> np.ndarray:
    """``X`` as a finite float array ``(T, D)``; a 1-D array is one metric."""
    try:
        rows = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"`X` of `{owner}` must be numeric; {err}") from err
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.ndim != 2:
        raise DataError(f"`X` of `{owner}` must be 1-D or 2-D; got shape {rows.shape}.")
    if rows.shape[0] == 0:
        raise DataError(f"`X` of `{owner}` must hold at least one row; got 0.")
    if not np.all(np.isfinite(rows)):
        raise DataError(
            f"`X` of `{owner}` must be finite; it holds NaN or infinity. "
            "Impute or drop those rows first."
        )
    return rows


def _check_time(value: Any, name: str, owner: str) -> float:
    """Seconds of a positive time Quantity."""
    if not isinstance(value, Quantity) or value.dim != second.dim or not value > 0:
        raise ConfigError(
            f"`{name}` of `{owner}` must be a positive time such as 10*ms; "
            f"got {value!r}."
        )
    return float(value / second)


def _check_int(value: Any, name: str, owner: str, low: int) -> int:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be an integer >= {low}; got {value!r}."
        )
    return int(value)


def _check_positive(value: Any, name: str, owner: str) -> float:
    """``value`` as a float; it must be a finite number above zero."""
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ConfigError(
            f"`{name}` of `{owner}` must be a positive number; got {value!r}."
        )
    return number


def _scale(rows: np.ndarray) -> np.ndarray:
    """Per-metric spread used to size steps and bins; never zero."""
    spread = rows.std(axis=0)
    return np.where(spread > 0, spread, np.maximum(np.abs(rows[0]) * 1e-6, 1e-9))


class StepForwardEncoder:
    """Delta (step-forward) coding with an adaptive step.

    Parameters
    ----------
    n_levels : int, default=4
        Channels per direction; a move of ``k`` steps fires ``min(k, n_levels)``.
    step_factor : float, default=2.5
        The step is this many times the running mean absolute change.
    adapt_tau : Quantity (time), default=100*ms
        Time constant of that running mean (100 rows with ``dt`` = 1 ms).
    min_step : float, default=0.1
        Smallest step, as a share of the metric's training standard deviation.
    dt : Quantity (time), default=1*ms
        Duration of one row.
    """

    def __init__(
        self,
        *,
        n_levels: int = 4,
        step_factor: float = 2.5,
        adapt_tau: Quantity = 100 * ms,
        min_step: float = 0.1,
        dt: Quantity = 1 * ms,
    ) -> None:
        self.n_levels = n_levels
        self.step_factor = step_factor
        self.adapt_tau = adapt_tau
        self.min_step = min_step
        self.dt = dt

    @property
    def channels(self) -> int:
        """Channels per metric: ``n_levels`` up, then ``n_levels`` down."""
        return 2 * int(self.n_levels)

    def fit(self, X: Any) -> State:
        """Learn the step floor from normal rows; return the start state."""
        owner = type(self).__name__
        _check_int(self.n_levels, "n_levels", owner, 1)
        _check_positive(self.step_factor, "step_factor", owner)
        _check_positive(self.min_step, "min_step", owner)
        self.alpha_ = _check_time(self.dt, "dt", owner) / _check_time(
            self.adapt_tau, "adapt_tau", owner
        )
        if self.alpha_ > 1:
            raise ConfigError(f"`adapt_tau` of `{owner}` must be at least `dt`.")
        rows = as_rows(X, owner)

        self.floor_ = self.min_step * _scale(rows)
        moves = np.abs(np.diff(rows, axis=0))
        mean_move = moves.mean(axis=0) if len(moves) else np.zeros(rows.shape[1])
        return {
            "baseline": rows[0].copy(),
            "previous": rows[0].copy(),
            "move": mean_move,
        }

    def encode(self, X: Any, state: State) -> tuple[np.ndarray, State]:
        """Spikes ``(T, D, 2 * n_levels)`` of ``X`` from ``state``."""
        rows = as_rows(X, type(self).__name__)
        baseline = state["baseline"].copy()
        previous = state["previous"].copy()
        move = state["move"].copy()
        n_levels = int(self.n_levels)
        level = np.arange(n_levels)
        spikes = np.zeros((rows.shape[0], rows.shape[1], 2 * n_levels), dtype=bool)

        for t, row in enumerate(rows):
            step = np.maximum(self.step_factor * move, self.floor_)
            diff = row - baseline
            k = np.minimum(np.floor(np.abs(diff) / step), n_levels)
            spikes[t, :, :n_levels] = (diff > 0)[:, None] & (level < k[:, None])
            spikes[t, :, n_levels:] = (diff < 0)[:, None] & (level < k[:, None])
            baseline += np.sign(diff) * k * step
            move += self.alpha_ * (np.abs(row - previous) - move)
            previous = row

        return spikes, {"baseline": baseline, "previous": previous.copy(), "move": move}


class LevelCrossingEncoder:
    """A population of value bins; a bin's channel spikes when the value enters it.

    Parameters
    ----------
    n_bins : int, default=8
        Bins spanning the training range widened by ``margin`` on each side;
        two more channels take values below and above that span.
    margin : float, default=0.1
        Widening of the training range, as a share of its width.
    """

    def __init__(self, *, n_bins: int = 8, margin: float = 0.1) -> None:
        self.n_bins = n_bins
        self.margin = margin

    @property
    def channels(self) -> int:
        """Channels per metric: below, ``n_bins`` bins, above."""
        return int(self.n_bins) + 2

    def fit(self, X: Any) -> State:
        """Learn the bin edges from normal rows; return the start state."""
        owner = type(self).__name__
        _check_int(self.n_bins, "n_bins", owner, 1)
        if not isinstance(self.margin, numbers.Real) or not 0 <= self.margin < 10:
            raise ConfigError(
                f"`margin` of `{owner}` must be a number in [0, 10); got "
                f"{self.margin!r}."
            )
        rows = as_rows(X, owner)
        low, high = rows.min(axis=0), rows.max(axis=0)
        width = np.maximum(high - low, _scale(rows))
        self.low_: np.ndarray = low - self.margin * width
        self.width_: np.ndarray = width * (1 + 2 * self.margin) / int(self.n_bins)
        return {"bin": self._bins(rows[:1])[0]}

    def _bins(self, rows: np.ndarray) -> np.ndarray:
        position = np.floor((rows - self.low_) / self.width_) + 1
        return np.clip(position, 0, int(self.n_bins) + 1).astype(np.int64)

    def encode(self, X: Any, state: State) -> tuple[np.ndarray, State]:
        """Spikes ``(T, D, n_bins + 2)`` of ``X`` from ``state``."""
        rows = as_rows(X, type(self).__name__)
        bins = self._bins(rows)
        before = np.vstack([state["bin"][None, :], bins[:-1]])
        spikes = np.zeros((rows.shape[0], rows.shape[1], self.channels), dtype=bool)
        t_index, d_index = np.nonzero(bins != before)
        spikes[t_index, d_index, bins[t_index, d_index]] = True
        return spikes, {"bin": bins[-1].copy()}


class RateEncoder:
    """Rate coding by a population of Gaussian receptive fields.

    Field ``j`` of a metric fires at ``max_rate * exp(-(x - c_j)^2 / (2 s^2))``
    with centres ``c_j`` evenly over the training range and ``s`` their spacing;
    a phase accumulator per channel turns the rate into a regular spike train
    (a spike whenever the accumulated ``rate * dt`` passes 1).

    Parameters
    ----------
    n_fields : int, default=6
    max_rate : Quantity (frequency), default=250*Hz
        Rate at a field's centre; at most ``1 / dt``.
    dt : Quantity (time), default=1*ms
    """

    def __init__(
        self,
        *,
        n_fields: int = 6,
        max_rate: Quantity = 250 * Hz,
        dt: Quantity = 1 * ms,
    ) -> None:
        self.n_fields = n_fields
        self.max_rate = max_rate
        self.dt = dt

    @property
    def channels(self) -> int:
        """Channels per metric: one per receptive field."""
        return int(self.n_fields)

    def fit(self, X: Any) -> State:
        """Place the fields over the training range; return the start state."""
        owner = type(self).__name__
        _check_int(self.n_fields, "n_fields", owner, 1)
        rate = self.max_rate
        if not isinstance(rate, Quantity) or rate.dim != Hz.dim or not rate > 0:
            raise ConfigError(
                f"`max_rate` of `{owner}` must be a positive rate such as 100*Hz; "
                f"got {rate!r}."
            )
        self.spikes_per_row_ = float(rate / Hz) * _check_time(self.dt, "dt", owner)
        if self.spikes_per_row_ > 1:
            raise ConfigError(f"`max_rate` of `{owner}` must be at most 1 / dt.")
        rows = as_rows(X, owner)
        low, high = rows.min(axis=0), rows.max(axis=0)
        width = np.maximum(high - low, _scale(rows))
        steps = np.linspace(0.0, 1.0, int(self.n_fields))
        self.centres_ = low[:, None] + width[:, None] * steps[None, :]
        self.sigma_ = width / max(int(self.n_fields) - 1, 1)
        return {"phase": np.zeros(self.centres_.shape)}

    def rates(self, X: Any) -> np.ndarray:
        """Spikes per row of every channel, ``(T, D, n_fields)``."""
        rows = as_rows(X, type(self).__name__)
        distance = (rows[:, :, None] - self.centres_[None]) / self.sigma_[None, :, None]
        return np.asarray(self.spikes_per_row_ * np.exp(-0.5 * distance**2))

    def encode(self, X: Any, state: State) -> tuple[np.ndarray, State]:
        """Spikes ``(T, D, n_fields)`` of ``X`` from ``state``."""
        rates = self.rates(X)
        phase = state["phase"].copy()
        spikes = np.zeros(rates.shape, dtype=bool)
        for t in range(rates.shape[0]):
            phase += rates[t]
            spikes[t] = phase >= 1.0
            phase[spikes[t]] -= 1.0
        return spikes, {"phase": phase}
