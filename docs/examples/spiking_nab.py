"""Score a NAB series with the spiking detector, next to the rolling z-score.

The detector learns from the series' probationary head (the first 15 %, as
NAB prescribes) and scores the whole series; the ROC AUC against NAB's
labelled anomaly windows says how well high scores fall inside them.

Usage::

    python docs/examples/spiking_nab.py
"""

from __future__ import annotations

import time

from sklearn.metrics import roc_auc_score

from qnrecovery.data import NAB_PROBATIONARY_FRACTION, sample_nab
from qnrecovery.registry import backend


def main() -> None:
    series = next(
        s
        for s in sample_nab()
        if s.name.endswith("ec2_request_latency_system_failure.csv")
    )
    head = int(NAB_PROBATIONARY_FRACTION * len(series.values))
    print(f"{series.name}: {len(series.values)} rows, {len(series.windows)} windows")

    for name in ("spiking", "zscore"):
        started = time.perf_counter()
        detector = backend("detector", name).fit(series.values[:head])
        scores = detector.score(series.values)
        elapsed = time.perf_counter() - started
        top = scores[head:].argmax() + head
        auc = roc_auc_score(series.labels[head:], scores[head:])
        print(
            f"{name:>8}: ROC AUC {auc:.3f}; "
            f"highest score {scores[top]:.3f} at {series.timestamps[top]} "
            f"(in a window: {bool(series.labels[top])}); {elapsed:.1f} s"
        )


if __name__ == "__main__":
    main()
