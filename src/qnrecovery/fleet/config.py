"""Settings of a fleet simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qnrecovery.config import PROFILES, PlannerConfig
from qnrecovery.exceptions import ConfigError
from qnrecovery.fleet.timing import RecoveryTimeModel
from qnrecovery.interfaces import KINDS
from qnrecovery.orchestrator.tiers import TIERS

__all__ = ["FleetConfig"]


@dataclass(frozen=True)
class FleetConfig:
    """Everything a fleet simulation needs; every field has a default.

    Parameters
    ----------
    components : int, default=1000
        Simulated components; tiers round-robin from ultra-critical to
        standard unless ``tiers`` is given.
    days : float, default=7
        Simulated time span in days.
    seed : int, default=0
        Seeds the mapping of components onto servers, the placement
        latencies, the recovery-time draws and the backends.
    profile : {"classical", "quantum"}, default="classical"
        Preferred detector and predictor (see :data:`qnrecovery.config.PROFILES`).
        The predictor is trained on whole servers' test splits, so a slow
        backend makes the simulation's start slow.
    backends : dict of str to str, default={}
        Backend name per kind, over the profile's; the placer defaults to
        ``greedy`` whatever the profile.
    backend_options : dict, default={}
        Constructor options per kind.
    data : Path or None, default=None
        ASD/SMD telemetry (file or folder); ``None`` uses the bundled ASD
        sample.
    planner : PlannerConfig
        Thresholds and horizon of the planner.
    feature_window : int, default=12
        Trailing rows in each predictor feature vector.
    tiers : tuple of str or None, default=None
        Tier per component, repeated over the fleet.
    cell_size : int, default=50
        Components per placement cell; the placer runs once per cell.
    components_per_host : int, default=2
        Primaries per host; a cell has ``ceil(cell / components_per_host)``
        hosts (at least 4), spread over four failure domains.
    host_capacity : float, default=5.0
        Capacity of each host, in units of one component's demand.
    cold_starts_per_host : int, default=2
        Cold starts a host runs at once; more wait in a queue.
    rebuild_s : float, default=60
        Time to rebuild a standby after it took over (an assumption; the
        real drill rebuilds a small state in well under a second).
    timing : RecoveryTimeModel
        Step durations of a recovery.
    forecast_cache : Path or None, default=None
        ``.npz`` file keeping the per-server forecasts; reused when the
        backends, their options, the data, the seed, the horizon and the
        window are the same, so a second run skips the training.
    """

    components: int = 1000
    days: float = 7.0
    seed: int = 0
    profile: str = "classical"
    backends: dict[str, str] = field(default_factory=dict)
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: Path | None = None
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    feature_window: int = 12
    tiers: tuple[str, ...] | None = None
    cell_size: int = 50
    components_per_host: int = 2
    host_capacity: float = 5.0
    cold_starts_per_host: int = 2
    rebuild_s: float = 60.0
    timing: RecoveryTimeModel = field(default_factory=RecoveryTimeModel)
    forecast_cache: Path | None = None

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the first bad setting."""
        _positive_int("components", self.components)
        _positive_int("cell_size", self.cell_size)
        _positive_int("components_per_host", self.components_per_host)
        _positive_int("cold_starts_per_host", self.cold_starts_per_host)
        if not isinstance(self.feature_window, int) or self.feature_window < 2:
            raise ConfigError(
                "`feature_window` of FleetConfig must be an integer >= 2; "
                f"got {self.feature_window!r}."
            )
        for name in ("days", "host_capacity"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)) or (
                value <= 0
            ):
                raise ConfigError(
                    f"`{name}` of FleetConfig must be a positive number; got {value!r}."
                )
        if not (math.isfinite(self.rebuild_s) and self.rebuild_s >= 0):
            raise ConfigError(
                "`rebuild_s` of FleetConfig must be a finite number of seconds "
                f">= 0; got {self.rebuild_s!r}."
            )
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(
                f"`seed` of FleetConfig must be an integer >= 0; got {self.seed!r}."
            )
        self._check_names()
        self.timing.check()

    def _check_names(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(
                f"`profile` of FleetConfig must be one of {', '.join(PROFILES)}; "
                f"got {self.profile!r}."
            )
        unknown = sorted((set(self.backends) | set(self.backend_options)) - set(KINDS))
        if unknown:
            raise ConfigError(
                f"FleetConfig names unknown backend kind(s) {unknown}; expected "
                f"{', '.join(KINDS)}."
            )
        bad_tiers = sorted(set(self.tiers or ()) - set(TIERS))
        if bad_tiers or (self.tiers is not None and not self.tiers):
            raise ConfigError(
                f"`tiers` of FleetConfig must name tiers from {', '.join(TIERS)}; "
                f"got {list(self.tiers or ())!r}."
            )

    def tier_of(self, index: int) -> str:
        """Tier of component ``index``."""
        names = self.tiers or tuple(TIERS)
        return names[index % len(names)]

    def backend_names(self) -> dict[str, str]:
        """Backends asked for, by kind: explicit, else greedy / the profile's."""
        return {"placer": "greedy", **self.backends}


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"`{name}` of FleetConfig must be a positive integer; got {value!r}."
        )
