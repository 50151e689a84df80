"""Grover path search against Dijkstra and a classical scan of the same candidates.

Usage::

    python benchmarks/run_paths.py [--quick] [--seed 0] [--out DIR]

The same suite runs as `qnrecovery bench paths`.
"""

import sys

from qnrecovery.bench.suite import script_main

if __name__ == "__main__":
    sys.exit(script_main("paths", __doc__.splitlines()[0]))
