"""Run the `kernel` benchmark suite and record its results.

Usage::

    python benchmarks/run_kernel.py --quick --seed 0 --out DIR
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from qnrecovery.bench.kernel import run_suite
from qnrecovery.bench.suite import write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of every choice")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/kernel"),
        help="folder for results.json, table.md and plots",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    report = run_suite(quick=args.quick, seed=args.seed, out=args.out)
    elapsed = time.perf_counter() - started
    command = "python " + " ".join(sys.argv)
    write_report(
        report,
        args.out,
        seed=args.seed,
        quick=args.quick,
        command=command,
        elapsed_s=elapsed,
    )
    print(f"command: {command}")
    print()
    print(report.table)
    print()
    for note in report.notes:
        print(f"- {note}")
    print(f"took {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
