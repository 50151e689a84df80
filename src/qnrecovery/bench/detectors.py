"""Detectors side by side: NAB scores, multivariate server data, throughput.

- **NAB** (:func:`nab_suite`): every detector variant on every NAB file,
  in the same run; each variant on each file is one independent run
  (:func:`score_nab_file`). Each detector is fitted on a file's
  probationary period (NAB's first 15%, at most 750 rows) and scores the
  rest, continuing from the fitted state; the probationary rows get score 0
  (NAB ignores them).
  Scores go through NAB's rules (:mod:`qnrecovery.data.nab_scoring`) with
  one threshold per profile optimised over the files scored.
- **Servers** (:func:`server_suite`): ASD, SMD and SMAP/MSL entities; fit on
  ``train``, score ``test``, flag the rows whose score is above the
  ``1 - flag_share`` quantile of the entity's test scores (no labels used; the
  same rule for every detector, whose scores need not be calibrated alike) and
  report point-wise and event-wise precision, recall and F1, with the
  point-adjusted F1 beside them, labelled as such. Each variant on each
  entity is one independent run (:func:`score_server_entity`).

The runs go through a :class:`~qnrecovery.bench.runs.RunExecutor`: one after
another in this process by default, or as Ray tasks. The detectors draw no
random numbers outside their own options (IsolationForest's seed), so both
give the same scores; NAB's corpus scoring and the pooled server figures are
computed afterwards from the runs' results, in the order of the runs.

The variants are the ``spiking`` detector, its two ablations (plasticity off;
the encoder alone, no network) and the classical ``zscore`` and
``isolation-forest`` detectors.

Metric definitions
------------------
* point-wise: precision, recall and F1 over rows.
* event-wise: an event (a run of labelled rows) is found when at least one of
  its rows is flagged; recall = found events / events; precision = flagged
  runs that touch an event / flagged runs.
* point-adjusted (inflates scores; shown only beside the unadjusted ones):
  every row of a found event counts as flagged, then point-wise F1.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qnrecovery.bench.runs import Run, RunExecutor, map_runs
from qnrecovery.bench.suite import Progress, SuiteReport
from qnrecovery.data._common import label_runs
from qnrecovery.data.nab import read_nab_rows, read_nab_windows
from qnrecovery.data.nab_scoring import (
    PROFILES,
    NabFile,
    corpus_score,
    probationary_length,
    write_nab_results,
)
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.registry import backend

__all__ = [
    "QUICK_NAB_FILES",
    "DetectorRun",
    "Variant",
    "default_variants",
    "event_scores",
    "nab_suite",
    "point_adjusted_scores",
    "point_scores",
    "run_on_nab_file",
    "score_nab_file",
    "score_server_entity",
    "server_suite",
]

logger = logging.getLogger(__name__)

#: Files of the ``--quick`` NAB subset: one or two per category.
QUICK_NAB_FILES = (
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialWithAnomaly/art_load_balancer_spikes.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realTraffic/speed_7578.csv",
    "realTraffic/occupancy_6005.csv",
)

#: A NAB file needs this many probationary rows to fit a detector on.
MIN_PROBATION_ROWS = 2


@dataclass(frozen=True)
class Variant:
    """A detector configuration in a benchmark table.

    Attributes
    ----------
    label : str
        Row name in tables.
    tag : str
        Detector name in NAB's results layout (letters, digits, dashes).
    name : str
        Registered detector backend.
    options : dict
        Options passed to the backend.
    """

    label: str
    tag: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """A fresh detector."""
        return backend("detector", self.name, **self.options)


def default_variants(seed: int = 0, codegen_target: str = "auto") -> list[Variant]:
    """The spiking detector, its ablations, and the classical detectors."""
    spiking = {"codegen_target": codegen_target}
    frozen = spiking | {"plasticity": False}
    return [
        Variant("spiking", "spiking", "spiking", spiking),
        Variant("spiking, plasticity off", "spiking-frozen", "spiking", frozen),
        Variant(
            "encoder alone (no network)",
            "spiking-encoder",
            "spiking",
            {"use_network": False},
        ),
        Variant("zscore", "zscore", "zscore", {}),
        Variant(
            "isolation-forest",
            "isolation-forest",
            "isolation-forest",
            {"random_state": seed},
        ),
    ]


@dataclass
class DetectorRun:
    """What one variant did on a suite.

    Attributes
    ----------
    label : str
    rows : int
        Rows scored (fit rows included).
    seconds : float
        Wall time of fit and score together.
    metrics : dict
        Suite-specific results (NAB profiles, or F1 figures).
    """

    label: str
    rows: int = 0
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def points_per_s(self) -> float:
        """Rows processed per second of wall time."""
        return self.rows / self.seconds if self.seconds > 0 else math.inf


# --------------------------------------------------------------------- metrics


def _flags(labels: Any, flags: Any) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(labels).astype(bool)
    pred = np.asarray(flags).astype(bool)
    if truth.shape != pred.shape or truth.ndim != 1:
        raise DataError(
            f"labels and flags must be 1-D of one length; got {truth.shape} and "
            f"{pred.shape}."
        )
    return truth, pred


def _prf(tp: float, n_pred: float, n_true: float) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def point_scores(labels: Any, flags: Any) -> dict[str, float]:
    """Point-wise precision, recall and F1 (0 where undefined)."""
    truth, pred = _flags(labels, flags)
    return _prf(float(np.sum(truth & pred)), float(pred.sum()), float(truth.sum()))


def event_scores(labels: Any, flags: Any) -> dict[str, float]:
    """Event-wise precision, recall and F1.

    Recall: share of labelled runs with at least one flagged row. Precision:
    share of flagged runs that overlap a labelled run.
    """
    truth, pred = _flags(labels, flags)
    events = label_runs(truth.astype(int))
    alarms = label_runs(pred.astype(int))
    found = sum(bool(pred[s : e + 1].any()) for s, e in events)
    right = sum(bool(truth[s : e + 1].any()) for s, e in alarms)
    scores = _prf(float(found), float(len(events)), float(len(events)))
    precision = right / len(alarms) if alarms else 0.0
    recall = scores["recall"]
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def point_adjusted_scores(labels: Any, flags: Any) -> dict[str, float]:
    """Point-wise scores after point adjustment (inflated; label it as such).

    Every row of a labelled run counts as flagged once any of its rows is.
    """
    truth, pred = _flags(labels, flags)
    adjusted = pred.copy()
    for start, end in label_runs(truth.astype(int)):
        if pred[start : end + 1].any():
            adjusted[start : end + 1] = True
    return point_scores(truth, adjusted)


# ------------------------------------------------------------------------- NAB


def run_on_nab_file(
    make: Callable[[], Any], values: np.ndarray
) -> tuple[np.ndarray, float]:
    """Fit on the probationary rows, score the rest; return scores and seconds.

    Raises
    ------
    DataError
        If the file is too short to give ``MIN_PROBATION_ROWS`` probationary
        rows, or holds NaN or infinity.
    """
    n = len(values)
    probation = int(probationary_length(n))
    if probation < MIN_PROBATION_ROWS:
        shortest = math.ceil(MIN_PROBATION_ROWS / 0.15)
        raise DataError(
            f"A NAB series needs at least {shortest} rows so that its "
            f"probationary period holds {MIN_PROBATION_ROWS}; got {n}."
        )
    started = time.perf_counter()
    detector = make().fit(values[:probation])
    scores = np.concatenate([np.zeros(probation), detector.score(values[probation:])])
    return scores, time.perf_counter() - started


def score_nab_file(variant: Variant, values: np.ndarray) -> tuple[np.ndarray, float]:
    """One variant on one NAB file, as one run: scores and seconds.

    A fresh detector of `variant` goes through :func:`run_on_nab_file`.
    """
    return run_on_nab_file(variant.build, values)


def _nab_inputs(
    root: Path, quick: bool, max_files: int | None
) -> list[tuple[str, np.ndarray, np.ndarray, list[list[str]]]]:
    windows = read_nab_windows(root / "labels" / "combined_windows.json")
    names = sorted(f"{p.parent.name}/{p.name}" for p in (root / "data").glob("*/*.csv"))
    if not names:
        raise DataError(f"No NAB files under {root / 'data'}.")
    if quick:
        names = [n for n in names if n in QUICK_NAB_FILES]
    if max_files is not None:
        if max_files < 1:
            raise ConfigError(f"`max_files` must be >= 1; got {max_files}.")
        names = names[:max_files]
    inputs = []
    for name in names:
        stamps, values = read_nab_rows(root / "data" / name)
        inputs.append((name, stamps, values, windows.get(name, [])))
    return inputs


def nab_suite(
    root: str | Path,
    variants: Sequence[Variant],
    *,
    quick: bool = False,
    max_files: int | None = None,
    results_dir: str | Path | None = None,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[DetectorRun]:
    """Every variant on the NAB files under ``root``, scored by NAB's rules.

    ``metrics`` of each run maps every profile to ``{"score", "threshold",
    "raw"}`` and holds ``"files"``, the number of files. With
    ``results_dir``, per-file results are written in NAB's layout.

    Each variant on each file is one run of `runs` (in this process when
    None); `progress` moves over `span` as they finish. The NAB score of a
    variant over all its files is computed here from the runs' scores.
    """
    inputs = _nab_inputs(Path(root), quick, max_files)
    file_runs = [
        Run(
            f"NAB {name} / {variant.label}",
            score_nab_file,
            {"variant": variant, "values": values},
        )
        for variant in variants
        for name, _, values, _ in inputs
    ]
    results = iter(map_runs(file_runs, runs, progress, span=span))

    measured = []
    for variant in variants:
        run = DetectorRun(variant.label)
        files = []
        for name, stamps, values, windows in inputs:
            scores, seconds = next(results)
            run.rows += len(values)
            run.seconds += seconds
            stamps_s = stamps.astype("datetime64[s]")
            files.append(NabFile(name, stamps_s, scores, windows))
            if results_dir is not None:
                labels = np.zeros(len(values), dtype=int)
                for start, end in windows:
                    inside = (stamps_s >= np.datetime64(start, "s")) & (
                        stamps_s <= np.datetime64(end, "s")
                    )
                    labels[inside] = 1
                write_nab_results(
                    results_dir, variant.tag, name, stamps, values, scores, labels
                )
        for profile in PROFILES:
            result = corpus_score(files, profile)
            run.metrics[profile] = {
                "score": result.normalized,
                "threshold": result.threshold,
                "raw": result.raw,
            }
        run.metrics["files"] = len(files)
        logger.info("NAB %s: %s", variant.label, run.metrics)
        measured.append(run)
    return measured


# --------------------------------------------------------------------- servers


def server_entities(
    data_root: str | Path, quick: bool = False
) -> list[tuple[str, str, Path]]:
    """``(dataset, entity, path)`` of the ASD, SMD, SMAP and MSL files present."""
    root = Path(data_root)
    found = []
    for dataset, folder in (
        ("ASD", root / "asd"),
        ("SMD", root / "smd"),
        ("SMAP", root / "smap_msl" / "SMAP"),
        ("MSL", root / "smap_msl" / "MSL"),
    ):
        paths = sorted(folder.glob("*.npz"))
        if quick:
            paths = paths[:2]
        found += [(dataset, p.stem, p) for p in paths]
    return found


def score_server_entity(
    variant: Variant,
    path: Path,
    max_train_rows: int | None,
    flag_share: float,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """One variant on one server entity, as one run.

    Fits a fresh detector on the last `max_train_rows` rows of ``train``
    (None: all), scores ``test`` and flags the rows above the
    ``1 - flag_share`` quantile of those scores.

    Returns
    -------
    truth : ndarray of bool
        The test labels.
    flags : ndarray of bool
        The flagged test rows.
    seconds : float
        Wall time of fit and score together.
    rows : int
        Train and test rows processed.
    """
    with np.load(path, allow_pickle=False) as data:
        train, test = data["train"], data["test"]
        label = data["test_label"]
    if max_train_rows is not None:
        train = train[-max_train_rows:]

    started = time.perf_counter()
    detector = variant.build().fit(train)
    scores = detector.score(test)
    seconds = time.perf_counter() - started

    truth = np.asarray(label) > 0
    flags = scores > np.quantile(scores, 1.0 - flag_share)
    return truth, flags, seconds, len(train) + len(test)


def server_suite(
    data_root: str | Path,
    variants: Sequence[Variant],
    *,
    quick: bool = False,
    max_train_rows: int | None = 4000,
    flag_share: float = 0.02,
    runs: RunExecutor | None = None,
    progress: Progress | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[DetectorRun]:
    """Every variant on ASD, SMD and SMAP/MSL; one run per (dataset, variant).

    ``metrics`` holds, pooled over the dataset's entities (rows and events
    summed before dividing): ``point``, ``event`` and ``point_adjusted``
    precision / recall / F1, and ``entities``. Training uses the last
    ``max_train_rows`` rows of ``train`` (None: all). A test row is flagged
    when its score is above the ``1 - flag_share`` quantile of the entity's
    test scores.

    Each variant on each entity is one run of `runs` (in this process when
    None; on Ray, every node must see `data_root`); `progress` moves over
    `span` as they finish. The pooled figures are computed here.
    """
    if max_train_rows is not None and max_train_rows < 1:
        raise ConfigError(f"`max_train_rows` must be >= 1; got {max_train_rows}.")
    if not 0 < flag_share < 1:
        raise ConfigError(f"`flag_share` must lie in (0, 1); got {flag_share}.")
    entities = server_entities(data_root, quick)
    if not entities:
        raise DataError(f"No ASD, SMD or SMAP/MSL files under {data_root}.")
    datasets = list(dict.fromkeys(d for d, _, _ in entities))

    entity_runs = [
        Run(
            f"{dataset} {entity} / {variant.label}",
            score_server_entity,
            {
                "variant": variant,
                "path": path,
                "max_train_rows": max_train_rows,
                "flag_share": flag_share,
            },
        )
        for dataset in datasets
        for variant in variants
        for _, entity, path in (e for e in entities if e[0] == dataset)
    ]
    results = iter(map_runs(entity_runs, runs, progress, span=span))

    measured = []
    for dataset in datasets:
        for variant in variants:
            run = DetectorRun(f"{dataset}: {variant.label}")
            truths, flags = [], []
            for _, entity, _ in (e for e in entities if e[0] == dataset):
                truth, flag, seconds, rows = next(results)
                run.seconds += seconds
                run.rows += rows
                truths.append(truth)
                flags.append(flag)
                logger.info("%s %s %s done", dataset, entity, variant.label)
            run.metrics = _pooled(truths, flags)
            measured.append(run)
    return measured


def _pooled(truths: list[np.ndarray], flags: list[np.ndarray]) -> dict[str, Any]:
    """Point, event and point-adjusted scores with counts summed over entities."""
    sums = {"point": [0.0, 0.0, 0.0], "event": [0.0, 0.0, 0.0, 0.0], "pa": [0.0] * 3}
    for truth, flag in zip(truths, flags, strict=True):
        sums["point"][0] += float(np.sum(truth & flag))
        sums["point"][1] += float(flag.sum())
        sums["point"][2] += float(truth.sum())
        events, alarms = label_runs(truth.astype(int)), label_runs(flag.astype(int))
        sums["event"][0] += sum(bool(flag[s : e + 1].any()) for s, e in events)
        sums["event"][1] += len(events)
        sums["event"][2] += sum(bool(truth[s : e + 1].any()) for s, e in alarms)
        sums["event"][3] += len(alarms)
        adjusted = flag.copy()
        for s, e in events:
            if flag[s : e + 1].any():
                adjusted[s : e + 1] = True
        sums["pa"][0] += float(np.sum(truth & adjusted))
        sums["pa"][1] += float(adjusted.sum())
        sums["pa"][2] += float(truth.sum())
    found, n_events, right, n_alarms = sums["event"]
    precision = right / n_alarms if n_alarms else 0.0
    recall = found / n_events if n_events else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "point": _prf(*sums["point"]),
        "event": {"precision": precision, "recall": recall, "f1": f1},
        "point_adjusted": _prf(*sums["pa"]),
        "entities": len(truths),
    }


def nab_table(runs: list[DetectorRun]) -> str:
    """Markdown table of NAB scores per profile and throughput."""
    lines = [
        "| detector | " + " | ".join(PROFILES) + " | points/s |",
        "|---|" + "---:|" * (len(PROFILES) + 1),
    ]
    for run in runs:
        scores = " | ".join(f"{run.metrics[p]['score']:.1f}" for p in PROFILES)
        lines.append(f"| {run.label} | {scores} | {run.points_per_s:,.0f} |")
    return "\n".join(lines)


def server_table(runs: list[DetectorRun]) -> str:
    """Markdown table of point-wise, event-wise and point-adjusted scores."""
    lines = [
        "| data: detector | point P / R / F1 | event P / R / F1 "
        "| point-adjusted F1 (inflated) | points/s |",
        "|---|---|---|---:|---:|",
    ]
    for run in runs:
        m = run.metrics
        point = " / ".join(
            f"{m['point'][k]:.2f}" for k in ("precision", "recall", "f1")
        )
        event = " / ".join(
            f"{m['event'][k]:.2f}" for k in ("precision", "recall", "f1")
        )
        lines.append(
            f"| {run.label} | {point} | {event} | {m['point_adjusted']['f1']:.2f} "
            f"| {run.points_per_s:,.0f} |"
        )
    return "\n".join(lines)


def _shared_data_root() -> Path | None:
    """``$QNRECOVERY_SHARED_DATA`` or ``../shared/data`` beside a checkout."""
    env = os.environ.get("QNRECOVERY_SHARED_DATA")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    return beside if beside.is_dir() else None


def run_suite(
    *,
    quick: bool,
    seed: int,
    out: Path,
    progress: Progress | None = None,
    runs: RunExecutor | None = None,
) -> SuiteReport:
    """The spiking detector, its ablations and the classical detectors.

    NAB files come from ``$QNRECOVERY_SHARED_DATA/nab`` (or ``../shared/data``
    beside a checkout), else from the bundled ``realKnownCause`` sample; the
    server data sets (ASD, SMD, SMAP, MSL) only from the shared folder.

    Parameters
    ----------
    quick : bool
        A NAB subset and two entities per server data set.
    seed : int
        Seed of IsolationForest.
    out : Path
        Output folder; NAB-layout result files go to ``out/nab_results``.
    progress : callable, optional
        Called with a step description and the fraction done.
    runs : RunExecutor, optional
        Executes the runs (variant x NAB file, variant x server entity):
        :class:`~qnrecovery.bench.runs.LocalRuns` when None, or Ray tasks.

    Returns
    -------
    SuiteReport
    """
    from qnrecovery.data import sample_path

    report = progress or (lambda _step, _fraction: None)
    root = _shared_data_root()
    variants = default_variants(seed)
    notes: list[str] = []

    report("NAB", 0.0)
    nab_root = root / "nab" if root is not None else sample_path("nab")
    if root is None:
        notes.append(
            "NAB: only the bundled realKnownCause files (no shared data folder); "
            "a subset score is not comparable with NAB's scoreboard."
        )
    nab = nab_suite(
        nab_root,
        variants,
        quick=quick,
        results_dir=out / "nab_results",
        runs=runs,
        progress=progress,
        span=(0.0, 0.5),
    )
    report("server data", 0.5)
    servers: list[DetectorRun] = []
    if root is not None:
        servers = server_suite(
            root, variants, quick=quick, runs=runs, progress=progress, span=(0.5, 1.0)
        )
    else:
        notes.append("ASD/SMD/SMAP/MSL skipped: set QNRECOVERY_SHARED_DATA.")
    report("done", 1.0)

    files = nab[0].metrics["files"] if nab else 0
    parts = [
        f"NAB, {files} files; normalised scores (null 0, perfect 100):",
        nab_table(nab),
    ]
    if servers:
        parts += [
            "Server data; a test row is flagged when its score is in the top 2% "
            "of the entity's test scores (no labels used):",
            server_table(servers),
        ]
    notes += [
        "Subset NAB scores are not comparable with NAB's full-corpus scoreboard.",
        "Point-adjusted F1 inflates scores and is shown only beside the "
        "unadjusted figures.",
    ]
    figures = {
        "nab": [vars(r) | {"points_per_s": r.points_per_s} for r in nab],
        "servers": [vars(r) | {"points_per_s": r.points_per_s} for r in servers],
    }
    return SuiteReport("detectors", "\n\n".join(parts), figures, [], notes)
