"""Time a backend next to its classical baseline, in the same process and run.

:func:`compare` calls a candidate and a baseline alternately ``repeats``
times each, timing every call with :func:`time.perf_counter`, and returns a
:class:`ComparisonResult` with the median and 90th percentile of each side,
the ratio of the medians (candidate over baseline: below 1 means the
candidate is faster) and, when a ``score`` function is given, the median
quality of each side's answers. :func:`format_table` renders results as a
Markdown table.

Examples
--------
>>> from qnrecovery.bench.harness import compare, format_table
>>> result = compare("sum", lambda: sum(range(1000)), lambda: sum(range(10)))
>>> result.ratio > 0
True
>>> print(format_table([result]))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from qnrecovery.exceptions import ConfigError

__all__ = ["ComparisonResult", "Measurement", "compare", "format_table", "ratio"]

T = TypeVar("T")


@dataclass(frozen=True)
class Measurement:
    """Timings (and optional quality) of one side of a comparison.

    Attributes
    ----------
    label : str
        Name shown in tables.
    times_s : tuple of float
        Wall time of every run, in seconds.
    scores : tuple of float
        Quality of every run's answer; empty without a ``score`` function.
    """

    label: str
    times_s: tuple[float, ...]
    scores: tuple[float, ...] = ()

    @property
    def median_s(self) -> float:
        """Median wall time in seconds."""
        return float(np.median(self.times_s))

    @property
    def p90_s(self) -> float:
        """90th percentile of the wall time in seconds."""
        return float(np.percentile(self.times_s, 90))

    @property
    def score(self) -> float | None:
        """Median quality, or ``None`` when no score was taken."""
        return float(np.median(self.scores)) if self.scores else None


@dataclass(frozen=True)
class ComparisonResult:
    """A candidate and its baseline, timed in the same run.

    Attributes
    ----------
    name : str
        What was compared (the benchmark's row name).
    candidate, baseline : Measurement
    notes : dict
        Anything else the suite measured (feasible share, gap, ...), shown
        in the table's last column.
    """

    name: str
    candidate: Measurement
    baseline: Measurement
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Candidate median time over baseline median time."""
        return ratio(self.candidate.median_s, self.baseline.median_s)


def ratio(candidate_s: float, baseline_s: float) -> float:
    """``candidate_s / baseline_s``; ``inf`` or ``nan`` when the baseline is 0."""
    if baseline_s == 0:
        return math.nan if candidate_s == 0 else math.inf
    return candidate_s / baseline_s


def compare(
    name: str,
    candidate: Callable[[], T],
    baseline: Callable[[], T],
    repeats: int = 5,
    score: Callable[[T], float] | None = None,
    *,
    candidate_label: str = "candidate",
    baseline_label: str = "baseline",
    warmup: int = 0,
    notes: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Time ``candidate`` and ``baseline`` alternately, ``repeats`` times each.

    Parameters
    ----------
    name : str
        Row name of the comparison.
    candidate, baseline : callable
        Called with no argument; each call is one timed run.
    repeats : int, default=5
        Timed runs of each side.
    score : callable, optional
        ``score(answer) -> float``, the quality of one run's answer (e.g. an
        objective); kept per run, untimed.
    candidate_label, baseline_label : str
        Names shown in tables.
    warmup : int, default=0
        Untimed runs of each side first (imports, caches).
    notes : dict, optional
        Extra figures stored on the result.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ConfigError
        If ``repeats`` is not a positive integer or ``warmup`` is negative.
    """
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ConfigError(
            f"`repeats` of `compare` must be a positive integer; got {repeats!r}."
        )
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ConfigError(
            f"`warmup` of `compare` must be a non-negative integer; got {warmup!r}."
        )
    for _ in range(warmup):
        candidate()
        baseline()

    sides = {"candidate": candidate, "baseline": baseline}
    times: dict[str, list[float]] = {"candidate": [], "baseline": []}
    scores: dict[str, list[float]] = {"candidate": [], "baseline": []}
    for run in range(repeats):
        # Alternate which side goes first, so neither always runs warm.
        order = ("candidate", "baseline") if run % 2 == 0 else ("baseline", "candidate")
        for side in order:
            started = time.perf_counter()
            answer = sides[side]()
            times[side].append(time.perf_counter() - started)
            if score is not None:
                scores[side].append(float(score(answer)))

    return ComparisonResult(
        name,
        Measurement(
            candidate_label, tuple(times["candidate"]), tuple(scores["candidate"])
        ),
        Measurement(
            baseline_label, tuple(times["baseline"]), tuple(scores["baseline"])
        ),
        dict(notes or {}),
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 1 else f"{seconds * 1e3:.0f}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _note(value: Any) -> str:
    return _number(value) if isinstance(value, float) else str(value)


def format_table(results: Sequence[ComparisonResult]) -> str:
    """Render results as a Markdown table, one row per comparison.

    Columns: the benchmark, both labels, median and p90 time of each side in
    milliseconds, the time ratio (candidate / baseline), the median quality of
    each side (``-`` without a score) and the notes.
    """
    header = (
        "| benchmark | candidate | baseline | candidate median ms | candidate p90 ms "
        "| baseline median ms | baseline p90 ms | time ratio | candidate quality "
        "| baseline quality | notes |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in results:
        notes = "; ".join(f"{k}: {_note(v)}" for k, v in r.notes.items())
        cells = (
            r.name,
            r.candidate.label,
            r.baseline.label,
            _ms(r.candidate.median_s),
            _ms(r.candidate.p90_s),
            _ms(r.baseline.median_s),
            _ms(r.baseline.p90_s),
            _number(r.ratio),
            _number(r.candidate.score),
            _number(r.baseline.score),
            notes or "-",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
