"""Spiking-network backends (Brian2): spike encoders, model loading, the detector.

Importing this package imports Brian2; the registry imports it only when the
``spiking`` detector is chosen.
"""

from qnrecovery.neuromorphic.detector import SpikingDetector, resolve_codegen_target
from qnrecovery.neuromorphic.encoders import (
    LevelCrossingEncoder,
    RateEncoder,
    StepForwardEncoder,
)
from qnrecovery.neuromorphic.models import (
    SNNModel,
    available_models,
    brian2_cache_dir,
    load_model,
    models_dir,
    parse_quantity,
)

__all__ = [
    "LevelCrossingEncoder",
    "RateEncoder",
    "SNNModel",
    "SpikingDetector",
    "StepForwardEncoder",
    "available_models",
    "brian2_cache_dir",
    "load_model",
    "models_dir",
    "parse_quantity",
    "resolve_codegen_target",
]
