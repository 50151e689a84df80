"""Spiking detector, its ablations and the classical detectors on NAB and servers.

Usage::

    python benchmarks/run_detectors.py --quick --seed 0 --out /tmp/detectors
    python benchmarks/run_detectors.py --seed 0 --out /tmp/detectors
    python benchmarks/run_detectors.py --skip-nab --out /tmp/servers  # servers only

Prints Markdown tables and writes ``results.json`` (and NAB-layout result
files under ``nab_results/``) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from qnrecovery.bench.detectors import (
    QUICK_NAB_FILES,
    DetectorRun,
    default_variants,
    nab_suite,
    nab_table,
    server_suite,
    server_table,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="NAB subset, 2 entities")
    parser.add_argument("--seed", type=int, default=0, help="seed of IsolationForest")
    parser.add_argument("--out", type=Path, default=Path("detector-results"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data")
    parser.add_argument("--codegen", default="auto", help="auto, cython or numpy")
    parser.add_argument(
        "--skip-servers", action="store_true", help="NAB only (no ASD/SMD/SMAP/MSL)"
    )
    parser.add_argument("--skip-nab", action="store_true", help="server data only")
    args = parser.parse_args()

    started = time.perf_counter()
    variants = default_variants(args.seed, args.codegen)
    args.out.mkdir(parents=True, exist_ok=True)
    nab: list[DetectorRun] = []
    if not args.skip_nab:
        nab = nab_suite(
            args.data / "nab",
            variants,
            quick=args.quick,
            results_dir=args.out / "nab_results",
        )
    servers: list[DetectorRun] = []
    if not args.skip_servers:
        servers = server_suite(args.data, variants, quick=args.quick)

    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    if nab:
        files = nab[0].metrics["files"]
        subset = "quick subset" if args.quick else "all files present"
        print(f"\nNAB, {files} files ({subset}); normalised (null 0, perfect 100)\n")
        print(nab_table(nab))
        if args.quick:
            print(f"\nquick NAB files: {', '.join(QUICK_NAB_FILES)}")
    if servers:
        print(
            "\nASD / SMD / SMAP / MSL: fit on the last 4000 train rows; a test row"
            " is flagged when its score is in the top 2% of the entity's test"
            " scores (no labels used)\n"
        )
        print(server_table(servers))
    print(f"\ntook {time.perf_counter() - started:.0f} s")

    results = {
        "command": " ".join(sys.argv),
        "quick": args.quick,
        "seed": args.seed,
        "nab": [vars(r) | {"points_per_s": r.points_per_s} for r in nab],
        "servers": [vars(r) | {"points_per_s": r.points_per_s} for r in servers],
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
