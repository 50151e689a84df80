"""Quantum predictors against the classical baselines on the same rows.

Usage::

    python benchmarks/run_predictors.py [--quick] [--seed 0] [--out DIR]

The same suite runs as `qnrecovery bench predictors`.
"""

import sys

from qnrecovery.bench.suite import script_main

if __name__ == "__main__":
    sys.exit(script_main("predictors", __doc__.splitlines()[0]))
