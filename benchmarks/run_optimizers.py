"""Placers (greedy vs MILP) and path searchers (exhaustive vs Dijkstra).

Usage::

    python benchmarks/run_optimizers.py --repeats 5 --seed 0
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from qnrecovery.bench.harness import format_table
from qnrecovery.bench.optimizers import path_suite, placement_suite


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side")
    parser.add_argument(
        "--instances", type=int, default=10, help="random placement instances per size"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the instances")
    args = parser.parse_args()

    started = time.perf_counter()
    results = placement_suite(
        instances=args.instances, repeats=args.repeats, seed=args.seed
    )
    results += path_suite(repeats=args.repeats, seed=args.seed)
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    print()
    print(format_table(results))
    print()
    print(
        "Times are per run (one run solves every instance of the row); time ratio ="
        " candidate median / baseline median; quality = mean objective (lower is"
        " better); gap = (greedy - milp) / milp per instance."
    )
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
