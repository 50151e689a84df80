"""Validated settings for a drill.

A drill is configured by one :class:`DrillConfig`, built from keyword
arguments, a YAML or JSON file (:func:`load_config`) and command-line
overrides. Unknown keys are refused with an error that names them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
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
    "CalibrationConfig",
    "DrillConfig",
    "MetricsConfig",
    "NotifierConfig",
    "PlannerConfig",
    "TargetsConfig",
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
    drain : bool, default=True
        From ``immediate`` on, also send the component's reads to its hot
        standby (the router drains the primary).
    replace_standbys : bool, default=True
        From ``immediate`` on, give the component's host that failure
        probability, run the placer again and move the standbys it places
        elsewhere (make-before-break); the report lists each revision.
    """

    prepare: float = Field(0.5, gt=0.0, lt=1.0)
    immediate: float = Field(0.8, gt=0.0, le=1.0)
    horizon_rows: int = Field(12, ge=1, le=10_000)
    drain: bool = True
    replace_standbys: bool = True

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

        return Planner(self.prepare, self.immediate, self.horizon_rows, self.drain)


class MetricsConfig(_Strict):
    """The Prometheus endpoint (see :mod:`qnrecovery.observability.metrics`).

    Attributes
    ----------
    enabled : bool, default=False
    host : str, default="127.0.0.1"
        Address to bind; anything else exposes the metrics to the network.
    port : int, default=9464
        0 picks a free port (the drill reports which).
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65_535)


class NotifierConfig(_Strict):
    """Escalation to people (see :mod:`qnrecovery.observability.notify`).

    Attributes
    ----------
    webhook_url : str or None, default=None
        Receives a JSON POST per ``unrecovered`` or ``objective-missed`` event.
    command : list of str or None, default=None
        Program and arguments run per event, the event JSON on stdin.
    timeout_s : float, default=5
    retries : int, default=3
    """

    webhook_url: str | None = None
    command: list[str] | None = None
    timeout_s: float = Field(5.0, gt=0.0, le=300.0)
    retries: int = Field(3, ge=0, le=10)

    @model_validator(mode="after")
    def _one_target(self) -> NotifierConfig:
        if self.webhook_url is not None and self.command is not None:
            raise ValueError("give webhook_url or command, not both")
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("webhook_url must start with http:// or https://")
        if self.command is not None and (not self.command or not all(self.command)):
            raise ValueError("command must be a non-empty list of strings")
        return self

    @property
    def enabled(self) -> bool:
        """Whether a webhook or a command is configured."""
        return self.webhook_url is not None or self.command is not None


class CalibrationConfig(_Strict):
    """Threshold calibration (see :mod:`qnrecovery.orchestrator.calibration`).

    Attributes
    ----------
    path : Path or None, default=None
        JSON file of the history and the calibration; ``None`` records none.
    target_waste_rate : float, default=0.5
        Highest acceptable share of preparations that no fault followed.
    """

    path: Path | None = None
    target_waste_rate: float = Field(0.5, ge=0.0, le=1.0)


class _Secretive(_Strict):
    # Validation errors never echo the input, which may hold a token.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ErrorSuppressionConfig(_Secretive):
    """Error suppression the IBM runtime sampler applies on hardware.

    Attributes
    ----------
    dynamical_decoupling : bool, default=False
        Pad idle qubits with decoupling pulses.
    dd_sequence : {"XX", "XpXm", "XY4"}, default="XX"
        The decoupling sequence.
    twirl_gates : bool, default=False
        Pauli twirling of two-qubit gate layers.
    twirl_measure : bool, default=False
        Measurement twirling: flips random qubits before readout and undoes
        the flip in the bits, which turns biased readout errors into
        symmetric ones. It is the readout error handling the sampler offers.
    """

    dynamical_decoupling: bool = False
    dd_sequence: Literal["XX", "XpXm", "XY4"] = "XX"
    twirl_gates: bool = False
    twirl_measure: bool = False


class IBMConfig(_Secretive):
    """How to reach IBM Quantum through ``qiskit-ibm-runtime``.

    Attributes
    ----------
    channel : {"ibm_quantum_platform", "ibm_cloud"} or None, default=None
        ``None`` uses ``QISKIT_IBM_CHANNEL`` or the saved account's channel.
    instance : str or None, default=None
        Cloud resource name (CRN) or instance name; ``None`` lets the service
        choose (``QISKIT_IBM_INSTANCE`` is read too).
    token : SecretStr or None, default=None
        API key. Prefer ``QISKIT_IBM_TOKEN`` or a saved account over a file.
    account_name : str or None, default=None
        Name of a saved account (``QiskitRuntimeService.save_account``).
    execution_mode : {"batch", "session", "job"}, default="batch"
        How sampler jobs are grouped on the service.
    """

    channel: Literal["ibm_quantum_platform", "ibm_cloud"] | None = None
    instance: str | None = None
    token: SecretStr | None = None
    account_name: str | None = None
    execution_mode: Literal["batch", "session", "job"] = "batch"


class DWaveConfig(_Secretive):
    """How to reach D-Wave and how problems are embedded on a QPU graph.

    Attributes
    ----------
    token : SecretStr or None, default=None
        Leap API token. Prefer ``DWAVE_API_TOKEN`` or the dwave config file.
    profile : str or None, default=None
        Profile of the dwave config file (``dwave config create``).
    num_reads : int, default=100
        Samples per QPU or structured-sampler call.
    chain_strength : float or None, default=None
        Coupling that holds a chain of physical qubits together; ``None``
        computes it by uniform torque compensation.
    chain_strength_prefactor : float, default=1.414
        Prefactor of uniform torque compensation.
    chain_break_method : str, default="majority_vote"
        How a broken chain is read: ``majority_vote``, ``discard`` (drop the
        sample) or ``weighted_random``.
    embedding_tries : int, default=10
        Restarts of the minor-embedding heuristic (minorminer ``tries``).
    embedding_timeout_s : float, default=60
        Time limit of the minor-embedding heuristic, in seconds.
    hybrid_time_limit_s : float or None, default=None
        Time limit of the hybrid solver; ``None`` takes the solver's minimum.
    """

    token: SecretStr | None = None
    profile: str | None = None
    num_reads: int = Field(100, ge=1, le=10_000)
    chain_strength: float | None = Field(None, gt=0.0)
    chain_strength_prefactor: float = Field(1.414, gt=0.0)
    chain_break_method: Literal["majority_vote", "discard", "weighted_random"] = (
        "majority_vote"
    )
    embedding_tries: int = Field(10, ge=1, le=1_000)
    embedding_timeout_s: float = Field(60.0, gt=0.0)
    hybrid_time_limit_s: float | None = Field(None, gt=0.0)


#: Environment variables that override the ``targets`` section.
TARGET_ENV = {
    "QNRECOVERY_QUANTUM_TARGET": "quantum",
    "QNRECOVERY_ANNEALING_TARGET": "annealing",
    "QNRECOVERY_FALLBACK": "fallback",
}


class TargetsConfig(_Secretive):
    """Where quantum and annealing work runs; the default is always local.

    Attributes
    ----------
    quantum : str, default="statevector"
        ``statevector``, ``aer``, ``fake:<device>`` or ``ibm:<backend>``.
    annealing : str, default="neal"
        ``neal``, ``structured:pegasus``, ``structured:zephyr``,
        ``dwave:<solver>`` or ``dwave-hybrid``.
    fallback : {"fail", "simulator"}, default="fail"
        When a hardware job fails or times out: raise, or rerun on the local
        simulator with a warning and ``fallback: true`` in the result info.
    optimization_level : int, default=1
        Preset pass manager level (0-3) used to transpile to the device.
    shots : int, default=1024
        Shots per circuit on sampling targets.
    job_timeout_s : float, default=900
        Longest wait for one hardware job, in seconds.
    error_suppression : ErrorSuppressionConfig
    ibm : IBMConfig
    dwave : DWaveConfig
    """

    quantum: str = "statevector"
    annealing: str = "neal"
    fallback: Literal["fail", "simulator"] = "fail"
    optimization_level: int = Field(1, ge=0, le=3)
    shots: int = Field(1024, ge=1, le=10_000_000)
    job_timeout_s: float = Field(900.0, gt=0.0, le=7 * 86_400.0)
    error_suppression: ErrorSuppressionConfig = Field(
        default_factory=ErrorSuppressionConfig
    )
    ibm: IBMConfig = Field(default_factory=IBMConfig)
    dwave: DWaveConfig = Field(default_factory=DWaveConfig)

    @field_validator("quantum")
    @classmethod
    def _quantum_spec(cls, value: str) -> str:
        from qnrecovery.qpu.specs import check_quantum_spec

        check_quantum_spec(value)
        return value.strip()

    @field_validator("annealing")
    @classmethod
    def _annealing_spec(cls, value: str) -> str:
        from qnrecovery.qpu.specs import parse_annealing_spec

        return parse_annealing_spec(value).spec

    def with_env(self, environ: Mapping[str, str] | None = None) -> TargetsConfig:
        """These settings with ``QNRECOVERY_*`` environment variables applied.

        ``QNRECOVERY_QUANTUM_TARGET``, ``QNRECOVERY_ANNEALING_TARGET`` and
        ``QNRECOVERY_FALLBACK`` win over the file.

        Raises
        ------
        ConfigError
            If a variable holds an invalid value.
        """
        env = os.environ if environ is None else environ
        changes = {key: env[var] for var, key in TARGET_ENV.items() if env.get(var)}
        if not changes:
            return self
        try:
            return TargetsConfig(**{**self.model_dump(), **changes})
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, "environment")) from None


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
    faults : list of str, default=["kill", "hang", "slow"]
        Fault kinds the drill injects, in turn (see
        :data:`qnrecovery.runtime.faults.FAULT_KINDS`).
    pause_tolerance_ms : float, default=0
        A primary paused no longer than this is not failed over.
    phi_threshold : float, default=8
        Suspicion level of the phi-accrual failure detector.
    phi_window : int, default=100
        Heartbeat intervals the phi-accrual detector estimates from.
    hang_ms : float, default=500
        How long a ``hang`` fault pauses the primary before SIGCONT.
    slow_ms : float, default=250
        Latency a ``slow`` fault adds to every request of the primary.
    feature_window : int, default=12
        Trailing rows summarised into each predictor feature vector.
    max_faults_per_component : int or None, default=None
        Cap on injected faults per component (``None``: one per labelled
        anomaly segment).
    planner : PlannerConfig
    nan_policy : {"raise", "ffill"}, default="raise"
        What to do with NaN or infinite values in ``.npz`` telemetry: refuse
        the file, or carry the last finite value forward (zero at the start).
    targets : TargetsConfig
        Where quantum and annealing work runs (simulators by default).
    metrics : MetricsConfig
        Prometheus endpoint (off by default).
    notifier : NotifierConfig
        Webhook or command for unrecovered components and missed objectives.
    calibration : CalibrationConfig
        Where the history for threshold calibration is kept.
    """

    # Validation errors never echo the input, which may hold a token.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

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
    faults: list[str] = Field(default_factory=lambda: ["kill", "hang", "slow"])
    pause_tolerance_ms: float = Field(0.0, ge=0.0, le=60_000.0)
    phi_threshold: float = Field(8.0, gt=0.0, le=100.0)
    phi_window: int = Field(100, ge=2, le=100_000)
    hang_ms: float = Field(500.0, ge=0.0, le=600_000.0)
    slow_ms: float = Field(250.0, gt=0.0, le=60_000.0)
    feature_window: int = Field(12, ge=2, le=1_000)
    max_faults_per_component: int | None = Field(None, ge=0)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    nan_policy: Literal["raise", "ffill"] = "raise"
    targets: TargetsConfig = Field(default_factory=lambda: TargetsConfig())
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    notifier: NotifierConfig = Field(default_factory=NotifierConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)

    @field_validator("backends", "backend_options")
    @classmethod
    def _known_kinds(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown backend kind(s) {unknown}; expected {', '.join(KINDS)}"
            )
        return value

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, value: list[str]) -> list[str]:
        from qnrecovery.runtime.faults import FAULT_KINDS

        unknown = sorted(set(value) - set(FAULT_KINDS))
        if unknown or not value:
            raise ValueError(
                f"unknown or no fault kind(s) {unknown}; choose from "
                f"{', '.join(FAULT_KINDS)}"
            )
        return list(dict.fromkeys(value))

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
