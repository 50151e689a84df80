"""Placement by simulated annealing (D-Wave Ocean).

The ``annealing`` placer (:class:`AnnealingPlacer`) writes standby placement
as a constrained quadratic model (:mod:`~qnrecovery.annealing.model`), encodes
it as a binary quadratic model (:mod:`~qnrecovery.annealing.encoding`),
samples it with ``dwave.samplers``' simulated annealing and repairs and
improves the samples (:mod:`~qnrecovery.annealing.repair`).
:mod:`~qnrecovery.annealing.problem_file` reads placement problems from JSON or
YAML files. Ocean is imported only when a model is built or sampled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qnrecovery.annealing.placer import AnnealingPlacer

__all__ = ["AnnealingPlacer"]


def __getattr__(name: str) -> Any:
    if name == "AnnealingPlacer":
        from qnrecovery.annealing.placer import AnnealingPlacer

        return AnnealingPlacer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
