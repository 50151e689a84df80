"""Exact quantum kernel (ours) against qiskit-machine-learning's kernels.

Usage::

    python benchmarks/run_kernel.py [--quick] [--seed 0] [--out DIR]

The same suite runs as `qnrecovery bench kernel`.
"""

import sys

from qnrecovery.bench.suite import script_main

if __name__ == "__main__":
    sys.exit(script_main("kernel", __doc__.splitlines()[0]))
