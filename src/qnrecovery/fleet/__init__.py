"""Fleet simulation: recovery policies evaluated over thousands of components.

See :func:`simulate_fleet` and ``docs/fleet.md``.
"""

from qnrecovery.fleet.config import FleetConfig
from qnrecovery.fleet.sim import (
    ServerForecast,
    choose_backends,
    load_forecasts,
    simulate_fleet,
)
from qnrecovery.fleet.timing import RecoveryTimeModel, Step

__all__ = [
    "FleetConfig",
    "RecoveryTimeModel",
    "ServerForecast",
    "Step",
    "choose_backends",
    "load_forecasts",
    "simulate_fleet",
]
