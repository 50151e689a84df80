"""Learning from recoveries: planner thresholds calibrated from history.

A :class:`CalibrationRecorder` is an event sink that keeps the history of a
drill (or a fleet simulation): the failure probability of each component at
each step, the preparations, and the failures. :func:`calibrate` then
chooses the planner's thresholds so that the share of preparations no
failure followed (the *waste rate*) meets a target, keeping as many failures
predicted as it can:

* a preparation is a run of consecutive predictions at or above a
  threshold; it was needed when a failure came after its start and no later
  than ``horizon_s`` after its end (the rule of
  :meth:`~qnrecovery.orchestrator.planner.Planner.review`, in seconds);
* ``prepare`` is the lowest candidate threshold whose waste rate is at most
  the target; ``immediate`` the lowest, not below ``prepare``, whose waste
  rate is at most the (stricter) immediate target.

Candidates run from 0.01 to 0.99 in steps of 0.01. The result and the
history are written to a JSON file atomically (temporary file, fsync,
rename), so a restarted orchestrator finds them and a later run adds to the
same history.

Examples
--------
>>> import numpy as np
>>> history = CalibrationHistory(period_s=1.0)
>>> history.add_series("a", np.arange(6.0), np.array([0.1, 0.9, 0.9, 0.1, 0.6, 0.1]))
>>> history.add_series("b", np.arange(4.0), np.array([0.3, 0.3, 0.6, 0.3]))
>>> history.add_failure("a", 3.0)
>>> result = calibrate(history, 0.25, horizon_s=1.0)
>>> result.prepare, result.waste_rate
(0.61, 0.0)
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.orchestrator.events import RecoveryEvent

__all__ = [
    "CANDIDATES",
    "Calibration",
    "CalibrationHistory",
    "CalibrationRecorder",
    "calibrate",
    "load_calibration",
    "save_calibration",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Thresholds :func:`calibrate` considers.
CANDIDATES: np.ndarray = np.round(np.arange(1, 100) / 100, 2)

_FAILURE_KINDS = ("recovered", "unrecovered")


@dataclass
class CalibrationHistory:
    """Predictions, preparations and failures, per component.

    Parameters
    ----------
    period_s : float or None, default=None
        Seconds between two predictions of one component; two predictions
        further apart than 1.5 periods end a preparation run. ``None`` takes
        the median gap of the recorded predictions.
    min_probability : float, default=0.01
        Predictions below this are not kept (no candidate threshold is that
        low, and the period tells where they were).

    Attributes
    ----------
    predictions : dict of str to list of (float, float)
        ``(time, probability)`` per component.
    failures : dict of str to list of float
        Failure times per component.
    preparations : list of dict
        The ``prepared`` events seen: component, time, level, probability.
    """

    period_s: float | None = None
    min_probability: float = 0.01
    predictions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    failures: dict[str, list[float]] = field(default_factory=dict)
    preparations: list[dict[str, Any]] = field(default_factory=list)

    def add_prediction(self, component: str, when: float, probability: float) -> None:
        """Record one prediction."""
        if probability >= self.min_probability:
            self.predictions.setdefault(component, []).append(
                (float(when), float(probability))
            )

    def add_series(
        self, component: str, times: np.ndarray, probabilities: np.ndarray
    ) -> None:
        """Record a component's predictions at once."""
        t = np.asarray(times, dtype=float)
        p = np.asarray(probabilities, dtype=float)
        if t.shape != p.shape:
            raise DataError(
                f"add_series of CalibrationHistory needs as many times as "
                f"probabilities; got {t.shape} and {p.shape}."
            )
        keep = p >= self.min_probability
        self.predictions.setdefault(component, []).extend(
            zip(t[keep].tolist(), p[keep].tolist(), strict=True)
        )

    def add_failure(self, component: str, when: float) -> None:
        """Record that ``component`` failed at ``when``."""
        self.failures.setdefault(component, []).append(float(when))

    @property
    def n_predictions(self) -> int:
        """Predictions kept, over every component."""
        return sum(len(v) for v in self.predictions.values())

    @property
    def n_failures(self) -> int:
        """Failures recorded, over every component."""
        return sum(len(v) for v in self.failures.values())

    def period(self) -> float:
        """The prediction period: given, else the median gap between predictions."""
        if self.period_s is not None:
            return float(self.period_s)
        gaps = [
            np.diff(sorted(t for t, _ in rows))
            for rows in self.predictions.values()
            if len(rows) > 1
        ]
        positive = np.concatenate(gaps) if gaps else np.array([])
        positive = positive[positive > 0]
        if positive.size == 0:
            raise DataError(
                "Cannot tell the prediction period from the history; give "
                "CalibrationHistory(period_s=...)."
            )
        return float(np.median(positive))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "period_s": self.period_s,
            "min_probability": self.min_probability,
            "predictions": {
                k: [list(r) for r in v] for k, v in self.predictions.items()
            },
            "failures": self.failures,
            "preparations": self.preparations,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationHistory:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                period_s=data.get("period_s"),
                min_probability=float(data.get("min_probability", 0.01)),
                predictions={
                    str(k): [(float(t), float(p)) for t, p in v]
                    for k, v in data.get("predictions", {}).items()
                },
                failures={
                    str(k): [float(t) for t in v]
                    for k, v in data.get("failures", {}).items()
                },
                preparations=list(data.get("preparations", [])),
            )
        except (TypeError, ValueError, AttributeError) as err:
            raise DataError(f"The calibration history is malformed: {err}") from err


@dataclass(frozen=True)
class Calibration:
    """Thresholds chosen by :func:`calibrate`, and how they were judged.

    Attributes
    ----------
    prepare, immediate : float
        The planner thresholds.
    target_waste_rate, immediate_target : float
        The targets asked for.
    waste_rate : float or None
        Share of unneeded preparations at ``prepare`` (None: no preparation).
    immediate_waste_rate : float or None
        The same at ``immediate``.
    recall : float or None
        Share of failures with a prediction at or above ``prepare`` within
        the horizon before them (None: no failure recorded).
    preparations, unneeded : int
        Preparations at ``prepare`` and how many of them were not needed.
    failures, predictions : int
        What the history held.
    horizon_s : float
    met : bool
        Whether both targets were met.
    note : str
        Why a target could not be met, or empty.
    created : float
        ``time.time()`` of the calibration.
    """

    prepare: float
    immediate: float
    target_waste_rate: float
    immediate_target: float
    waste_rate: float | None
    immediate_waste_rate: float | None
    recall: float | None
    preparations: int
    unneeded: int
    failures: int
    predictions: int
    horizon_s: float
    met: bool
    note: str = ""
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)

    def planner_settings(self) -> dict[str, float]:
        """``{"prepare": ..., "immediate": ...}`` for ``DrillConfig.planner``."""
        return {"prepare": self.prepare, "immediate": self.immediate}


# ---------------------------------------------------------------- calibration


@dataclass
class _Flat:
    """Every kept prediction of every component, in one set of arrays."""

    times: np.ndarray
    probabilities: np.ndarray
    breaks: np.ndarray  # True where a run cannot continue from the row before
    next_failure: np.ndarray  # first failure strictly after each row's time
    window_max: np.ndarray  # per failure: top probability within the horizon


def _flatten(history: CalibrationHistory, horizon_s: float) -> _Flat:
    period = history.period()
    times, probs, breaks, next_failure, window_max = [], [], [], [], []
    components = sorted(set(history.predictions) | set(history.failures))
    for name in components:
        rows = sorted(history.predictions.get(name, []))
        t = np.array([r[0] for r in rows], dtype=float)
        p = np.array([r[1] for r in rows], dtype=float)
        failures = np.sort(np.asarray(history.failures.get(name, []), dtype=float))
        gap = np.diff(t, prepend=-math.inf) > 1.5 * period
        after = np.searchsorted(failures, t, side="right")
        nxt = np.append(failures, math.inf)[after]
        for f in failures:
            lo, hi = np.searchsorted(t, [f - horizon_s, f], side="left")
            window_max.append(float(p[lo:hi].max()) if hi > lo else 0.0)
        times.append(t)
        probs.append(p)
        breaks.append(gap)
        next_failure.append(nxt)
    if not times:
        empty = np.array([])
        return _Flat(empty, empty, empty.astype(bool), empty, np.array(window_max))
    return _Flat(
        np.concatenate(times),
        np.concatenate(probs),
        np.concatenate(breaks),
        np.concatenate(next_failure),
        np.array(window_max),
    )


def _judge(flat: _Flat, threshold: float, horizon_s: float) -> tuple[int, int]:
    """Preparations at ``threshold`` and how many were unneeded."""
    on = flat.probabilities >= threshold
    if not on.any():
        return 0, 0
    previous_on = np.concatenate([[False], on[:-1]]) & ~flat.breaks
    starts = np.flatnonzero(on & ~previous_on)
    following_on = np.concatenate([on[1:] & ~flat.breaks[1:], [False]])
    ends = np.flatnonzero(on & ~following_on)
    needed = flat.next_failure[starts] <= flat.times[ends] + horizon_s
    return len(starts), int((~needed).sum())


def _check_rate(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ConfigError(f"`{name}` of calibrate must lie in [0, 1]; got {value!r}.")


def calibrate(
    history: CalibrationHistory,
    target_waste_rate: float,
    *,
    horizon_s: float,
    immediate_target: float | None = None,
) -> Calibration:
    """Choose planner thresholds whose unneeded-preparation rate meets a target.

    Parameters
    ----------
    history : CalibrationHistory
    target_waste_rate : float
        Highest acceptable share of preparations no failure followed, in
        [0, 1].
    horizon_s : float
        A preparation is needed if a failure follows within this many
        seconds of its end (the planner's ``horizon_rows`` times the row
        period).
    immediate_target : float, optional
        The same for the ``immediate`` threshold; half the target by default.

    Returns
    -------
    Calibration
        ``met`` is False when no candidate meets a target; the thresholds
        are then those with the lowest waste rate, and ``note`` says so.

    Raises
    ------
    ConfigError
        If a target or the horizon is out of range.
    DataError
        If the history holds no prediction.
    """
    _check_rate("target_waste_rate", target_waste_rate)
    strict = target_waste_rate / 2 if immediate_target is None else immediate_target
    _check_rate("immediate_target", strict)
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise ConfigError(
            f"`horizon_s` of calibrate must be a positive number; got {horizon_s!r}."
        )
    if history.n_predictions == 0:
        raise DataError(
            "The calibration history holds no prediction; record a drill or a "
            "fleet simulation first."
        )

    flat = _flatten(history, horizon_s)
    judged = {float(c): _judge(flat, float(c), horizon_s) for c in CANDIDATES}
    prepare, met_low = _lowest_meeting(judged, target_waste_rate, floor=0.0)
    immediate, met_high = _lowest_meeting(judged, strict, floor=prepare)
    total, unneeded = judged[prepare]
    high_total, high_unneeded = judged[immediate]
    notes = []
    if history.n_failures == 0:
        notes.append("the history holds no failure, so every preparation is waste")
    if not met_low:
        notes.append(f"no threshold meets the waste target {target_waste_rate}")
    if met_low and not met_high:
        notes.append(f"no threshold meets the immediate target {strict}")
    result = Calibration(
        prepare=prepare,
        immediate=immediate,
        target_waste_rate=float(target_waste_rate),
        immediate_target=float(strict),
        waste_rate=unneeded / total if total else None,
        immediate_waste_rate=high_unneeded / high_total if high_total else None,
        recall=float((flat.window_max >= prepare).mean())
        if flat.window_max.size
        else None,
        preparations=total,
        unneeded=unneeded,
        failures=history.n_failures,
        predictions=history.n_predictions,
        horizon_s=float(horizon_s),
        met=met_low and met_high,
        note="; ".join(notes),
    )
    logger.info(
        "Calibrated thresholds prepare=%.2f immediate=%.2f (waste %s, target %s)",
        result.prepare,
        result.immediate,
        result.waste_rate,
        target_waste_rate,
    )
    return result


def _lowest_meeting(
    judged: dict[float, tuple[int, int]], target: float, floor: float
) -> tuple[float, bool]:
    """Lowest threshold >= floor with some preparation and waste <= target.

    Falls back to the threshold with the lowest waste (the lowest such
    threshold on ties), and says it did.
    """
    usable = [(c, t, u) for c, (t, u) in judged.items() if c >= floor and t > 0]
    for c, t, u in usable:
        if u / t <= target + 1e-12:
            return c, True
    if not usable:
        return (floor if floor > 0 else float(CANDIDATES[0])), False
    best = min(usable, key=lambda item: (item[2] / item[1], item[0]))
    return best[0], False


# ----------------------------------------------------------------- persistence


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_calibration(
    path: str | os.PathLike[str],
    calibration: Calibration | None,
    history: CalibrationHistory | None = None,
) -> Path:
    """Write a calibration (and optionally its history) to a JSON file atomically.

    Earlier calibrations in the file are kept under ``"previous"``.
    """
    target = Path(path)
    previous: list[dict[str, Any]] = []
    if target.is_file():
        with _suppress_bad_file(target):
            old = json.loads(target.read_text(encoding="utf-8"))
            previous = list(old.get("previous", []))
            if old.get("calibration"):
                previous.append(old["calibration"])
    content = {
        "schema_version": SCHEMA_VERSION,
        "calibration": calibration.to_dict() if calibration else None,
        "previous": previous[-20:],
        "history": history.to_dict() if history is not None else None,
    }
    _write_atomic(target, json.dumps(content, separators=(",", ":")) + "\n")
    return target


class _suppress_bad_file:
    """Log (not raise) a corrupt earlier file, which is then overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> bool:
        if kind is not None and issubclass(kind, ValueError | AttributeError):
            logger.warning(
                "Ignoring unreadable calibration file %s: %s", self.path, err
            )
            return True
        return False


def load_calibration(
    path: str | os.PathLike[str],
) -> tuple[Calibration | None, CalibrationHistory | None]:
    """Read what :func:`save_calibration` wrote.

    Raises
    ------
    DataError
        If the file is missing or not a calibration file.
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"Calibration file {source} does not exist.")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        raw = data.get("calibration")
        calibration = Calibration(**raw) if raw else None
        history = data.get("history")
    except (ValueError, TypeError, AttributeError) as err:
        raise DataError(
            f"Calibration file {source} is not valid ({err}); delete it or point "
            "at another path."
        ) from err
    return calibration, (
        CalibrationHistory.from_dict(history) if history is not None else None
    )


# -------------------------------------------------------------------- the sink


class CalibrationRecorder:
    """Event sink that records the history :func:`calibrate` learns from.

    ``prepared`` events become preparations; ``recovered`` and
    ``unrecovered`` events become failures (at ``detail["fault_time"]``
    when given, else the event's ``wall_time``). Predictions are recorded
    with :meth:`observe` or :meth:`observe_series`.

    Parameters
    ----------
    path : path-like or None, default=None
        JSON file of the history and calibration. An existing history there
        is loaded and added to; :meth:`close` calibrates and writes it.
    target_waste_rate : float, default=0.5
    horizon_s : float or None, default=None
        Needed by :meth:`close` to calibrate; without it ``close`` only
        saves the history.
    period_s : float or None, default=None
        Seconds between predictions (see :class:`CalibrationHistory`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        target_waste_rate: float = 0.5,
        horizon_s: float | None = None,
        period_s: float | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.target_waste_rate = target_waste_rate
        self.horizon_s = horizon_s
        self.history = CalibrationHistory(period_s=period_s)
        self.calibration: Calibration | None = None
        self._lock = threading.Lock()
        if self.path is not None and self.path.is_file():
            _, loaded = load_calibration(self.path)
            if loaded is not None:
                loaded.period_s = loaded.period_s or period_s
                self.history = loaded

    def __repr__(self) -> str:
        return f"CalibrationRecorder(path={self.path!r})"

    def emit(self, event: RecoveryEvent) -> None:
        """Record a preparation or a failure."""
        with self._lock:
            if event.kind == "prepared":
                self.history.preparations.append(
                    {
                        "component": event.component,
                        "time": event.wall_time,
                        "level": event.reason,
                        "probability": event.detail.get("probability"),
                    }
                )
            elif event.kind in _FAILURE_KINDS:
                when = event.detail.get("fault_time", event.wall_time)
                self.history.add_failure(event.component, float(when))

    def observe(
        self, component: str, probability: float, when: float | None = None
    ) -> None:
        """Record one prediction (at ``time.time()`` unless ``when`` is given)."""
        with self._lock:
            self.history.add_prediction(
                component, time.time() if when is None else when, probability
            )

    def observe_series(
        self,
        component: str,
        times: Sequence[float] | np.ndarray,
        probabilities: Sequence[float] | np.ndarray,
        *,
        period_s: float | None = None,
    ) -> None:
        """Record a component's predictions at once."""
        with self._lock:
            if period_s is not None and self.history.period_s is None:
                self.history.period_s = float(period_s)
            self.history.add_series(
                component, np.asarray(times), np.asarray(probabilities)
            )

    def calibrate(self, horizon_s: float | None = None) -> Calibration:
        """Calibrate on the history recorded so far."""
        horizon = horizon_s if horizon_s is not None else self.horizon_s
        if horizon is None:
            raise ConfigError(
                "CalibrationRecorder.calibrate needs horizon_s (the planner's "
                "horizon in seconds)."
            )
        with self._lock:
            self.calibration = calibrate(
                self.history, self.target_waste_rate, horizon_s=horizon
            )
        return self.calibration

    def close(self) -> None:
        """Calibrate when possible and write the file (when a path is set)."""
        if self.horizon_s is not None and self.history.n_predictions:
            self.calibrate()
        if self.path is not None:
            with self._lock:
                save_calibration(self.path, self.calibration, self.history)
