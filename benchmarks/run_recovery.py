"""Recovery times of the reference workload under every fault kind.

Usage::

    python benchmarks/run_recovery.py --quick --seed 0 --out benchmarks/results/recovery
    python benchmarks/run_recovery.py --seed 0 --out benchmarks/results/recovery

``--quick`` injects about 10 faults of every kind (kill, hang, slow,
standby-death, cascade, concurrent), the full run at least 100, spread over
one component per tier under continuous client load. The Markdown table is
printed; ``results.json``, ``table.md`` and the plots go to ``--out``.

``--trials N`` runs the older per-strategy suite instead: N SIGKILLs of one
component per standby kind (hot, warm, cold), one after the other.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from qnrecovery.bench.recovery import format_recovery, run_recovery_suite, run_suite
from qnrecovery.bench.suite import record_and_print


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 10 per kind")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pauses")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/recovery"),
        help="folder for results.json, table.md and the plots",
    )
    parser.add_argument(
        "--trials", type=int, default=None, help="per-strategy suite: kills each"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # Warnings (escalations, false suspicions) go to a log next to the results.
    logging.basicConfig(
        filename=args.out / "run.log",
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.trials is not None:
        started = time.perf_counter()
        result = run_recovery_suite(args.trials, seed=args.seed)
        print(f"command: python {' '.join(sys.argv)}")
        print()
        print(format_recovery(result))
        print(f"\ntook {time.perf_counter() - started:.0f} s")
        return 0

    started = time.perf_counter()

    def progress(message: str, fraction: float) -> None:
        sys.stderr.write(f"[{time.perf_counter() - started:6.0f} s] {message}\n")

    report = run_suite(
        quick=args.quick, seed=args.seed, out=args.out, progress=progress
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
