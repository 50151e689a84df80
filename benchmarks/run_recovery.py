"""Recovery times of the reference workload per strategy (hot, warm, cold).

Usage::

    python benchmarks/run_recovery.py --trials 20 --seed 0
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from qnrecovery.bench.recovery import (
    STRATEGY_TIERS,
    format_recovery,
    run_recovery_suite,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="kills per strategy")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pauses")
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=list(STRATEGY_TIERS),
        choices=list(STRATEGY_TIERS),
        help="strategies to measure",
    )
    parser.add_argument(
        "--write-rate", type=float, default=100.0, help="client writes per second"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    result = run_recovery_suite(
        args.trials, args.strategies, seed=args.seed, write_rate=args.write_rate
    )
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    print()
    print(format_recovery(result))
    print()
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
