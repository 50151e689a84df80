"""qnrecovery: predictive failure recovery with pluggable quantum, annealing,
spiking and classical backends.

Importing the package loads no Qiskit, Brian2 or Ocean; each backend imports
its heavy library when it is built.
"""

from qnrecovery._version import __version__
from qnrecovery.exceptions import QnRecoveryError
from qnrecovery.registry import backend

__all__ = ["QnRecoveryError", "__version__", "backend"]
