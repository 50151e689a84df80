"""Read a placement problem from a JSON or YAML file.

The file holds a mapping::

    hosts:                        # at least one
      - {name: h1, capacity: 8, domain: rack-a, failure_probability: 0.05,
         cost: 1.0}
    services:                     # at least one
      - {name: db, tier: ultra-critical, demand: 2, primary_host: h1}
    latency_ms:                   # optional, one-way, looked up both ways
      h1: {h2: 2.0, h3: 4.5}
    default_latency_ms: 1.0       # optional
    standbys:                     # optional, per tier
      important: [warm, cold]
    reservation: {hot: 1.0, warm: 0.5, cold: 0.1}   # optional
    weights: {latency: 1.0, risk: 10.0, cost: 0.1}  # optional

Every problem is reported with its key (``services.2.demand: ...``): unknown
keys, unknown tiers and host names, negative demands or capacities,
probabilities outside [0, 1], duplicate names, no services.

Examples
--------
>>> from qnrecovery.annealing.problem_file import load_placement_problem
>>> problem = load_placement_problem("docs/examples/placement.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
from qnrecovery.orchestrator.tiers import TIERS, StandbyKind

__all__ = ["PlacementFile", "load_placement_problem", "parse_placement_problem"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostEntry(_Strict):
    """One host of the file."""

    name: str = Field(min_length=1)
    capacity: float = Field(ge=0, allow_inf_nan=False)
    domain: str = Field(min_length=1)
    failure_probability: float = Field(default=0.0, ge=0, le=1)
    cost: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class ServiceEntry(_Strict):
    """One service of the file."""

    name: str = Field(min_length=1)
    tier: str
    demand: float = Field(ge=0, allow_inf_nan=False)
    primary_host: str = Field(min_length=1)

    @model_validator(mode="after")
    def _known_tier(self) -> ServiceEntry:
        if self.tier not in TIERS:
            raise ValueError(
                f"tier {self.tier!r} is unknown; expected one of {', '.join(TIERS)}"
            )
        return self


class Weights(_Strict):
    """Weights of the objective's terms."""

    latency: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    risk: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    cost: float = Field(default=0.1, ge=0, allow_inf_nan=False)


class PlacementFile(_Strict):
    """The schema of a placement problem file."""

    hosts: list[HostEntry] = Field(min_length=1)
    services: list[ServiceEntry] = Field(min_length=1)
    latency_ms: dict[str, dict[str, float]] = Field(default_factory=dict)
    default_latency_ms: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    standbys: dict[str, list[StandbyKind]] | None = None
    reservation: dict[StandbyKind, float] | None = None
    weights: Weights = Field(default_factory=Weights)

    @model_validator(mode="after")
    def _consistent(self) -> PlacementFile:
        hosts = [h.name for h in self.hosts]
        _unique("host", hosts)
        _unique("service", [s.name for s in self.services])
        known = set(hosts)
        for k, service in enumerate(self.services):
            if service.primary_host not in known:
                raise ValueError(
                    f"services.{k} ({service.name}) names primary_host "
                    f"{service.primary_host!r}, which is not among the hosts "
                    f"({', '.join(hosts)})"
                )
        for a, row in self.latency_ms.items():
            for b, value in row.items():
                unknown = [n for n in (a, b) if n not in known]
                if unknown:
                    raise ValueError(
                        f"latency_ms.{a}.{b} names unknown host {unknown[0]!r}"
                    )
                if not (value >= 0 and math.isfinite(value)):
                    raise ValueError(
                        f"latency_ms.{a}.{b} must be a finite number >= 0; "
                        f"got {value!r}"
                    )
        for tier in self.standbys or {}:
            if tier not in TIERS:
                raise ValueError(
                    f"standbys names unknown tier {tier!r}; expected one of "
                    f"{', '.join(TIERS)}"
                )
        for kind, share in (self.reservation or {}).items():
            if not (share >= 0 and math.isfinite(share)):
                raise ValueError(
                    f"reservation.{kind.value} must be a finite number >= 0; "
                    f"got {share!r}"
                )
        return self

    def problem(self) -> PlacementProblem:
        """The :class:`PlacementProblem` this file describes."""
        reservation = None
        if self.reservation is not None:
            defaults = {StandbyKind.HOT: 1.0, StandbyKind.WARM: 0.5}
            reservation = {
                kind: self.reservation.get(kind, defaults.get(kind, 0.0))
                for kind in StandbyKind
            }
        return PlacementProblem(
            services=tuple(
                ServiceSpec(s.name, s.tier, s.demand, s.primary_host)
                for s in self.services
            ),
            hosts=tuple(
                HostSpec(h.name, h.capacity, h.domain, h.failure_probability, h.cost)
                for h in self.hosts
            ),
            latency_ms={
                (a, b): value
                for a, row in self.latency_ms.items()
                for b, value in row.items()
            },
            standbys=(
                {tier: tuple(kinds) for tier, kinds in self.standbys.items()}
                if self.standbys is not None
                else None
            ),
            reservation=reservation,
            latency_weight=self.weights.latency,
            risk_weight=self.weights.risk,
            cost_weight=self.weights.cost,
            default_latency_ms=self.default_latency_ms,
        )


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"{what} name {name!r} appears twice; names must be unique"
            )
        seen.add(name)


def parse_placement_problem(
    data: Any, source: str = "placement problem"
) -> PlacementProblem:
    """Build a problem from already-parsed data (a mapping).

    Raises
    ------
    ConfigError
        One line per problem found, each naming its key.
    """
    from qnrecovery.config import format_validation_error

    if not isinstance(data, dict):
        raise ConfigError(
            f"{source} must hold a mapping with 'hosts' and 'services' at its top "
            f"level; got {type(data).__name__}."
        )
    try:
        parsed = PlacementFile(**data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    problem = parsed.problem()
    problem.validate()
    return problem


def load_placement_problem(path: Path | str) -> PlacementProblem:
    """Read a placement problem from a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid JSON or YAML, or describes a
        malformed problem.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Placement file {file} does not exist.")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"Placement file {file} is not valid JSON: {err}") from err
    except Exception as err:  # yaml.YAMLError does not derive from ValueError
        raise ConfigError(f"Placement file {file} is not valid YAML: {err}") from err
    return parse_placement_problem(data, str(file))
