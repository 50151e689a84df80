"""Grover path search against Dijkstra and a classical scan of the same candidates.

Usage::

    python benchmarks/run_paths.py --quick --seed 0 --out bench-results/paths
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from qnrecovery.bench.paths import run_suite
from qnrecovery.bench.suite import write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="three networks, six problems each"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the problems and the searcher"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results/paths"),
        help="folder for results.json and table.md",
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
    print(f"took {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
