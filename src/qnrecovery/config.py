"""Validated settings for a drill.

A drill is configured by one :class:`DrillConfig`, built from keyword
arguments, a YAML or JSON file (:func:`load_config`) and command-line
overrides. Unknown keys are refused with an error that names them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import KINDS
from qnrecovery.orchestrator.tiers import TIERS

if TYPE_CHECKING:
    from qnrecovery.orchestrator.planner import Planner

__all__ = [
    "PROFILES",
    "DrillConfig",
    "PlannerConfig",
    "format_validation_error",
    "load_config",
    "parse_backend_options",
]

#: Backend preferred for each kind, by profile. A profile's backend that is
#: not installed falls back to the classical one, and the report says so.
PROFILES: dict[str, dict[str, str]] = {
    "quantum": {
        "predictor": "quantum-kernel",
        "detector": "spiking",
        "path": "grover",
        "placer": "annealing",
    },
    "classical": {
        "predictor": "gradient-boosting",
        "detector": "zscore",
        "path": "dijkstra",
        "placer": "milp",
    },
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannerConfig(_Strict):
    """Probability thresholds of the planner.

    Attributes
    ----------
    prepare : float, default=0.5
        From this probability on, prepare gradually (fresh snapshot, warm a
        standby).
    immediate : float, default=0.8
        From this probability on, prepare at once (a warm standby becomes hot).
    horizon_rows : int, default=12
        A preparation is needed if a fault follows within this many telemetry
        rows; it is also the predictor's horizon.
    """

    prepare: float = Field(0.5, gt=0.0, lt=1.0)
    immediate: float = Field(0.8, gt=0.0, le=1.0)
    horizon_rows: int = Field(12, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> PlannerConfig:
        if self.prepare > self.immediate:
            raise ValueError(
                f"prepare ({self.prepare}) must not exceed immediate ({self.immediate})"
            )
        return self

    def build(self) -> Planner:
        """The planner these settings describe."""
        from qnrecovery.orchestrator.planner import Planner

        return Planner(self.prepare, self.immediate, self.horizon_rows)


class DrillConfig(_Strict):
    """Everything a drill needs; every field has a sensible default.

    Attributes
    ----------
    data : Path or None, default=None
        An ASD or SMD ``.npz`` file or folder of them, or a NAB CSV file or
        NAB root folder. ``None`` uses the bundled ASD sample.
    components : int, default=4
        Number of components; tiers are assigned round-robin from
        ultra-critical to standard.
    tiers : list of str or None, default=None
        Explicit tier per component (overrides the round-robin).
    profile : {"quantum", "classical"}, default="quantum"
        Preferred backends; see :data:`PROFILES`.
    backends : dict, default={}
        Backend name per kind, overriding the profile.
    backend_options : dict, default={}
        Keyword options per kind, passed to the backend's constructor.
    duration_s : float, default=60
        Wall time over which the telemetry of the test split is replayed,
        unless ``speed`` is given.
    speed : float or None, default=None
        Replay acceleration over real time (e.g. 20000 plays one 5-minute
        row every 15 ms). Overrides ``duration_s``.
    seed : int, default=0
        Seed for every random choice of the drill and its backends.
    write_rate : float, default=100
        Client writes per second per component.
    heartbeat_ms : float, default=20
        Heartbeat period of the failure detector.
    heartbeat_misses : int, default=3
        Missed heartbeats before a component is suspected.
    feature_window : int, default=12
        Trailing rows summarised into each predictor feature vector.
    max_faults_per_component : int or None, default=None
        Cap on injected faults per component (``None``: one per labelled
        anomaly segment).
    planner : PlannerConfig
    nan_policy : {"raise", "ffill"}, default="raise"
        What to do with NaN or infinite values in ``.npz`` telemetry: refuse
        the file, or carry the last finite value forward (zero at the start).
    """

    data: Path | None = None
    components: int = Field(4, ge=1, le=32)
    tiers: list[str] | None = None
    profile: Literal["quantum", "classical"] = "quantum"
    backends: dict[str, str] = Field(default_factory=dict)
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    duration_s: float = Field(60.0, gt=0.0, le=86_400.0)
    speed: float | None = Field(None, gt=0.0)
    seed: int = Field(0, ge=0)
    write_rate: float = Field(100.0, gt=0.0, le=5_000.0)
    heartbeat_ms: float = Field(20.0, gt=0.0, le=10_000.0)
    heartbeat_misses: int = Field(3, ge=1, le=100)
    feature_window: int = Field(12, ge=2, le=1_000)
    max_faults_per_component: int | None = Field(None, ge=0)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    nan_policy: Literal["raise", "ffill"] = "raise"

    @field_validator("backends", "backend_options")
    @classmethod
    def _known_kinds(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown backend kind(s) {unknown}; expected {', '.join(KINDS)}"
            )
        return value

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = sorted(set(value) - set(TIERS))
            if unknown:
                raise ValueError(
                    f"unknown tier(s) {unknown}; expected {', '.join(TIERS)}"
                )
        return value

    @field_validator("speed", "duration_s")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def tier_of(self, index: int) -> str:
        """Tier of component ``index``."""
        if self.tiers:
            return self.tiers[index % len(self.tiers)]
        names = list(TIERS)
        return names[index % len(names)]

    def backend_name(self, kind: str) -> str:
        """The backend name asked for ``kind``: explicit, else the profile's."""
        return self.backends.get(kind, PROFILES[self.profile][kind])


def format_validation_error(err: ValidationError, source: str = "config") -> str:
    """One line per problem, each naming the offending key."""
    lines = []
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(root)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def load_config(path: Path | str | None = None, **overrides: Any) -> DrillConfig:
    """Build a :class:`DrillConfig` from a YAML/JSON file and overrides.

    Parameters
    ----------
    path : path-like or None
        A ``.yaml``, ``.yml`` or ``.json`` file whose top level is a mapping.
    **overrides
        Values that replace the file's; ``None`` values are ignored.

    Raises
    ------
    ConfigError
        If the file is missing or malformed, or a key is unknown or invalid.
    """
    settings: dict[str, Any] = {}
    source = "config"
    if path is not None:
        file = Path(path)
        source = str(file)
        settings = _read_settings(file)

    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value

    try:
        return DrillConfig(**settings)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def _read_settings(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ConfigError(f"Config file {file} does not exist.")
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix.lower() == ".json":
            loaded = json.loads(text)
        else:
            import yaml

            loaded = yaml.safe_load(text)
    except (json.JSONDecodeError, ValueError) as err:
        raise ConfigError(f"Config file {file} is not valid: {err}") from err
    except Exception as err:  # yaml.YAMLError does not derive from ValueError
        raise ConfigError(f"Config file {file} is not valid YAML: {err}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"Config file {file} must hold a mapping of settings at its top level; "
            f"got {type(loaded).__name__}."
        )
    return loaded


def parse_backend_options(pairs: list[str]) -> dict[str, str]:
    """Parse ``KIND=NAME`` strings from the command line.

    Raises
    ------
    ConfigError
        If a pair is malformed or names an unknown kind.
    """
    chosen: dict[str, str] = {}
    for pair in pairs:
        kind, sep, name = pair.partition("=")
        kind, name = kind.strip(), name.strip()
        if not sep or not kind or not name:
            raise ConfigError(
                f"--backend expects KIND=NAME (e.g. placer=milp); got {pair!r}."
            )
        if kind not in KINDS:
            raise ConfigError(
                f"--backend {pair!r}: unknown kind {kind!r}; expected one of "
                f"{', '.join(KINDS)}."
            )
        chosen[kind] = name
    return chosen
