"""The annealing placer against the exact MILP, with ablations and a budget curve.

Usage::

    python benchmarks/run_placement.py --quick --seed 0 --out bench-results/placement
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from qnrecovery.bench.placement import run_suite
from qnrecovery.bench.suite import write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="sizes up to 50 x 12 (about a minute)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the instances")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results/placement"),
        help="folder for results.json, table.md and the plot",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    report = run_suite(quick=args.quick, seed=args.seed, out=args.out)
    elapsed = time.perf_counter() - started
    command = f"python {' '.join(sys.argv)}"
    write_report(
        report,
        args.out,
        seed=args.seed,
        quick=args.quick,
        command=command,
        elapsed_s=elapsed,
    )
    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    print()
    print(report.table)
    print()
    for note in report.notes:
        print(f"- {note}")
    print(f"plots: {', '.join(str(p) for p in report.plots)}")
    print(f"took {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
