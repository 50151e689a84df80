"""Recovery on Ray: qnrecovery's standby takeover against Ray's own recovery.

Usage::

    python benchmarks/run_ray_recovery.py --quick --seed 0 --out DIR
    python benchmarks/run_ray_recovery.py --seed 0 --out DIR

Needs the ``ray`` extra (``pip install "qnrecovery[ray]"``). Starts a local
cluster of three simulated nodes; ``--quick`` injects one round of faults
(SIGKILL of each primary actor, graceful and hard removal of a node) and times
Ray's actor restart twice each way, the full run three rounds and five times.
The Markdown table is printed; ``results.json``, ``table.md`` and the drill
report ``drill.json`` go to ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from qnrecovery.bench.ray_recovery import run_suite
from qnrecovery.bench.suite import record_and_print


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of faults")
    parser.add_argument("--seed", type=int, default=0, help="recorded seed")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/ray_recovery"),
        help="folder for results.json, table.md and drill.json",
    )
    parser.add_argument(
        "--heartbeat-ms", type=float, default=10.0, help="heartbeat period"
    )
    parser.add_argument("--misses", type=int, default=3, help="lease in periods")
    parser.add_argument(
        "--confirm-ms", type=float, default=50.0, help="last ping before promotion"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.out / "run.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    started = time.perf_counter()

    def progress(message: str, fraction: float) -> None:
        sys.stderr.write(f"[{time.perf_counter() - started:6.0f} s] {message}\n")

    report = run_suite(
        quick=args.quick,
        seed=args.seed,
        out=args.out,
        progress=progress,
        heartbeat_ms=args.heartbeat_ms,
        misses=args.misses,
        confirm_ms=args.confirm_ms,
    )
    record_and_print(
        report,
        args.out,
        seed=args.seed,
        quick=args.quick,
        command="python " + " ".join(sys.argv),
        elapsed_s=time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
