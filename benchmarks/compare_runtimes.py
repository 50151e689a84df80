"""Compare two ``qnrecovery bench`` output folders, figure by figure.

Typical use: the same suites run locally and on Ray,

    qnrecovery bench --quick --out /tmp/local
    qnrecovery bench --quick --runtime ray --out /tmp/ray
    python benchmarks/compare_runtimes.py /tmp/local /tmp/ray

prints one row per suite: the wall time and runtime of each run and whether
every figure other than a wall time (or a ratio of wall times) is equal. The
recovery suites measure latencies and count what their timing decided
(detections, false alarms), so only their fault plan is compared. Exits 1 if
a compared suite differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qnrecovery.bench.runs import differences

#: Suites whose figures are timings throughout: compare only their plan.
PLAN_ONLY = {"recovery": ("per_kind", "faults_per_kind"), "ray_recovery": ("faults",)}

#: Figures only a Ray run measures.
RAY_ONLY = {"kernel": ("ray_tiles",)}


def _load(folder: Path, suite: str) -> dict[str, Any] | None:
    path = folder / suite / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="a bench output folder")
    parser.add_argument("second", type=Path, help="another bench output folder")
    args = parser.parse_args(argv)

    suites = sorted(
        {p.parent.name for p in args.first.glob("*/results.json")}
        & {p.parent.name for p in args.second.glob("*/results.json")}
    )
    if not suites:
        sys.stderr.write("The two folders have no suite results in common.\n")
        return 2

    lines = [
        f"| suite | {args.first} | {args.second} | figures other than times |",
        "|---|---|---|---|",
    ]
    differ = False
    for suite in suites:
        a, b = _load(args.first, suite), _load(args.second, suite)
        assert a is not None and b is not None
        fa, fb = a["figures"], b["figures"]
        for key in RAY_ONLY.get(suite, ()):
            fa = {k: v for k, v in fa.items() if k != key}
            fb = {k: v for k, v in fb.items() if k != key}
        if suite in PLAN_ONLY:
            keys = PLAN_ONLY[suite]
            fa = {k: fa.get(k) for k in keys}
            fb = {k: fb.get(k) for k in keys}
        found = differences(fa, fb)
        differ = differ or bool(found)
        verdict = "equal" if not found else f"{len(found)} differ: {found[0]}"
        if suite in PLAN_ONLY:
            verdict += " (fault plan only)"
        lines.append(
            f"| {suite} | {a['elapsed_s']:.0f} s, "
            f"{a.get('runtime', {}).get('runtime', 'local')} "
            f"| {b['elapsed_s']:.0f} s, {b.get('runtime', {}).get('runtime', 'local')} "
            f"| {verdict} |"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
