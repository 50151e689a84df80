"""Detector suite as independent runs: per-file and per-entity runs, pooled here."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.bench.detectors import (
    Variant,
    event_scores,
    nab_suite,
    point_adjusted_scores,
    point_scores,
    run_on_nab_file,
    run_suite,
    score_nab_file,
    server_suite,
)
from qnrecovery.bench.runs import LocalRuns
from qnrecovery.data import sample_path
from qnrecovery.data.nab import read_nab_rows, read_nab_windows
from qnrecovery.data.nab_scoring import PROFILES, NabFile, corpus_score
from qnrecovery.exceptions import DataError

NAB = sample_path("nab")
ZSCORES = [
    Variant("zscore 20", "zscore-20", "zscore", {"window": 20}),
    Variant("zscore 50", "zscore-50", "zscore", {"window": 50}),
]


def _two_nab_files() -> list[str]:
    names = sorted(f"{p.parent.name}/{p.name}" for p in (NAB / "data").glob("*/*.csv"))
    return names[:2]


def test_nab_runs_give_each_variant_its_own_files_and_corpus_score(tmp_path):
    seen: list[tuple[str, float]] = []
    measured = nab_suite(
        NAB,
        ZSCORES,
        max_files=2,
        results_dir=tmp_path,
        runs=LocalRuns(),
        progress=lambda step, fraction: seen.append((step, fraction)),
        span=(0.2, 0.6),
    )

    windows = read_nab_windows(NAB / "labels" / "combined_windows.json")
    for variant, run in zip(ZSCORES, measured, strict=True):
        files, rows = [], 0
        for name in _two_nab_files():
            stamps, values = read_nab_rows(NAB / "data" / name)
            scores, _ = run_on_nab_file(variant.build, values)
            np.testing.assert_array_equal(score_nab_file(variant, values)[0], scores)
            stamps_s = stamps.astype("datetime64[s]")
            files.append(NabFile(name, stamps_s, scores, windows.get(name, [])))
            rows += len(values)
        assert run.label == variant.label
        assert run.rows == rows
        assert run.metrics["files"] == 2
        for profile in PROFILES:
            expected = corpus_score(files, profile)
            assert run.metrics[profile] == {
                "score": expected.normalized,
                "threshold": expected.threshold,
                "raw": expected.raw,
            }
        assert len(list((tmp_path / variant.tag).glob("*/*.csv"))) == 2

    # The two windows score differently, so a swapped result would show.
    assert measured[0].metrics != measured[1].metrics
    assert [step for step, _ in seen] == [
        f"NAB {name} / {variant.label}"
        for variant in ZSCORES
        for name in _two_nab_files()
    ]
    assert [fraction for _, fraction in seen] == pytest.approx([0.2, 0.3, 0.4, 0.5])

    default = nab_suite(NAB, ZSCORES, max_files=2)
    assert [(r.label, r.rows, r.metrics) for r in default] == [
        (r.label, r.rows, r.metrics) for r in measured
    ]


def test_a_failing_nab_run_raises_its_own_error(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text("{}")
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    rows = [f"2020-01-01 00:{minute:02d}:00,{minute}.0" for minute in range(10)]
    (tmp_path / "data" / "tiny" / "short.csv").write_text(
        "timestamp,value\n" + "\n".join(rows) + "\n"
    )
    with pytest.raises(DataError, match="at least 14 rows"):
        nab_suite(tmp_path, ZSCORES[:1], runs=LocalRuns())


def _entity(path: Path, rng: np.random.Generator, burst: int) -> None:
    label = np.zeros(200, dtype=np.int8)
    label[burst : burst + 10] = 1
    test = rng.normal(size=(200, 3))
    test[burst : burst + 10] += 8.0
    np.savez(path, train=rng.normal(size=(300, 3)), test=test, test_label=label)


def test_server_runs_pool_the_entities_of_each_dataset(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "asd").mkdir()
    (tmp_path / "smd").mkdir()
    _entity(tmp_path / "asd" / "omi-1.npz", rng, 60)
    _entity(tmp_path / "asd" / "omi-2.npz", rng, 120)
    _entity(tmp_path / "smd" / "machine-1-1.npz", rng, 90)
    variants = [
        ZSCORES[0],
        Variant("spiking", "spiking", "spiking", {"codegen_target": "numpy"}),
    ]

    measured = server_suite(tmp_path, variants, max_train_rows=250, runs=LocalRuns())

    assert [r.label for r in measured] == [
        "ASD: zscore 20",
        "ASD: spiking",
        "SMD: zscore 20",
        "SMD: spiking",
    ]
    assert [r.metrics["entities"] for r in measured] == [2, 2, 1, 1]
    assert [r.rows for r in measured] == [900, 900, 450, 450]

    # Pooling over entities sums counts: the same as scoring the entities one
    # after another with a quiet row between them, as one series.
    for variant, run in zip(variants, measured[:2], strict=True):
        truths, flags = [], []
        for name in ("omi-1", "omi-2"):
            with np.load(tmp_path / "asd" / f"{name}.npz") as data:
                detector = variant.build().fit(data["train"][-250:])
                scores = detector.score(data["test"])
                truths += [data["test_label"] > 0, [False]]
                flags += [scores > np.quantile(scores, 0.98), [False]]
        truth, flag = np.concatenate(truths), np.concatenate(flags)
        assert run.metrics["point"] == point_scores(truth, flag)
        assert run.metrics["event"] == event_scores(truth, flag)
        assert run.metrics["point_adjusted"] == point_adjusted_scores(truth, flag)
        assert run.metrics["event"]["recall"] == 1.0  # both +8 bursts are found


def test_run_suite_takes_an_executor():
    parameter = inspect.signature(run_suite).parameters["runs"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is None
