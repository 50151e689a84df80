"""The annealing placer against the exact MILP, with ablations and a budget curve.

Usage::

    python benchmarks/run_placement.py [--quick] [--seed 0] [--out DIR]

The same suite runs as `qnrecovery bench placement`.
"""

import sys

from qnrecovery.bench.suite import script_main

if __name__ == "__main__":
    sys.exit(script_main("placement", __doc__.splitlines()[0]))
