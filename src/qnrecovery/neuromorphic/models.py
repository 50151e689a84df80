"""Spiking model definitions loaded by name from ``snn_models/``.

A model is a YAML file: Brian2 equations, thresholds and resets for an input
layer, a neuron layer and the synapses between them, plus parameters with
units (``"20 ms"``, ``"5 Hz"`` or plain numbers). An installed package reads
them from ``qnrecovery/snn_models`` inside the package; an editable install
reads the ``snn_models/`` folder of the checkout.

Examples
--------
>>> from qnrecovery.neuromorphic.models import load_model
>>> model = load_model("habituation_lif")
>>> str(model.parameters["tau_m"])
'5. ms'
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from brian2 import Quantity, units

from qnrecovery.exceptions import ConfigError

__all__ = [
    "SNNModel",
    "available_models",
    "brian2_cache_dir",
    "load_model",
    "models_dir",
    "parse_quantity",
]

logger = logging.getLogger(__name__)

_QUANTITY = re.compile(
    r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)?\s*$"
)
_REQUIRED = {
    "input": ("equations", "threshold", "reset"),
    "neurons": ("equations", "threshold", "reset"),
    "synapses": ("model", "on_pre", "on_post", "initial_weight"),
}


@dataclass(frozen=True)
class SNNModel:
    """A spiking model definition.

    Attributes
    ----------
    name : str
        The model's name (its file name without ``.yaml``).
    description : str
    dt : Quantity (time)
        Duration of one row of telemetry, the simulation time step.
    parameters : dict of str to Quantity or float
        Defaults of the names the equations use.
    input, neurons, synapses : dict of str to str
        Brian2 code of each part (see ``snn_models/README.md``).
    source : str
        Where the definition was read from.
    """

    name: str
    description: str
    dt: Quantity
    parameters: dict[str, Any]
    input: dict[str, str]
    neurons: dict[str, str]
    synapses: dict[str, str]
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def namespace(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Parameters with ``overrides`` applied, each checked for its unit.

        Raises
        ------
        ConfigError
            If an override names an unknown parameter or has the wrong unit.
        """
        values = dict(self.parameters)
        for key, value in (overrides or {}).items():
            if key not in values:
                raise ConfigError(
                    f"Model {self.name!r} has no parameter {key!r}; known: "
                    f"{', '.join(sorted(values))}."
                )
            new = parse_quantity(value, key)
            if not _same_dimensions(values[key], new):
                raise ConfigError(
                    f"Parameter {key!r} of model {self.name!r} must have the "
                    f"unit of {values[key]!s}; got {value!r}."
                )
            values[key] = new
        return values


def _same_dimensions(a: Any, b: Any) -> bool:
    dim_a = getattr(a, "dim", None)
    dim_b = getattr(b, "dim", None)
    if dim_a is None or dim_b is None:
        return (dim_a is None or dim_a.is_dimensionless) and (
            dim_b is None or dim_b.is_dimensionless
        )
    return bool(dim_a == dim_b)


def parse_quantity(value: Any, name: str = "value") -> Any:
    """Turn ``"20 ms"``, ``"5 Hz"``, a number or a Quantity into a value.

    Raises
    ------
    ConfigError
        If the text is not a number followed by an optional Brian2 unit name.
    """
    if isinstance(value, Quantity):
        return value
    if isinstance(value, bool):
        raise ConfigError(f"`{name}` must be a number or a quantity; got {value!r}.")
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ConfigError(
            f"`{name}` must be a number followed by an optional unit such as "
            f"'20 ms'; got {value!r}."
        )
    number, unit_name = float(match.group(1)), match.group(2)
    if unit_name is None:
        return number
    unit = getattr(units, unit_name, None)
    if not isinstance(unit, Quantity):
        raise ConfigError(
            f"`{name}` uses unknown unit {unit_name!r}; use a Brian2 unit such as "
            "ms, second or Hz."
        )
    return number * unit


def models_dir() -> Path:
    """The folder the model files are read from.

    The package's own ``snn_models`` (an installed wheel) if present, else the
    ``snn_models/`` folder of the source checkout (an editable install).
    """
    packaged = Path(str(files("qnrecovery"))) / "snn_models"
    if packaged.is_dir() and any(packaged.glob("*.yaml")):
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "snn_models"
    if checkout.is_dir():
        return checkout
    raise ConfigError(
        f"No spiking model folder found (looked in {packaged} and {checkout}); "
        "reinstall qnrecovery."
    )


def available_models() -> list[str]:
    """Names of the model files that :func:`load_model` can read."""
    return sorted(p.stem for p in models_dir().glob("*.yaml"))


def load_model(name: str) -> SNNModel:
    """Read the model called ``name`` from the model folder.

    Raises
    ------
    ConfigError
        If no such model exists or the file lacks a required part.
    """
    path = models_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"Unknown spiking model {name!r}; available: "
            f"{', '.join(available_models()) or 'none'}."
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigError(f"Spiking model file {path} must hold a mapping.")

    for part, keys in _REQUIRED.items():
        section = data.get(part)
        missing = [k for k in keys if not isinstance(section, dict) or k not in section]
        if missing:
            raise ConfigError(
                f"Spiking model file {path} lacks {part}: {', '.join(missing)}."
            )
    parameters = {
        key: parse_quantity(value, key)
        for key, value in (data.get("parameters") or {}).items()
    }
    dt = parse_quantity(data.get("dt", "1 ms"), "dt")
    if not isinstance(dt, Quantity) or not dt.dim == units.second.dim or dt <= 0:
        raise ConfigError(f"`dt` of spiking model {name!r} must be a positive time.")

    return SNNModel(
        name=str(data.get("name", name)),
        description=str(data.get("description", "")),
        dt=dt,
        parameters=parameters,
        input={k: str(v) for k, v in data["input"].items()},
        neurons={k: str(v) for k, v in data["neurons"].items()},
        synapses={k: str(v) for k, v in data["synapses"].items()},
        source=str(path),
    )


def brian2_cache_dir() -> Path:
    """Folder for Brian2's compiled code: ``$XDG_CACHE_HOME/qnrecovery/brian2``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache`` (a relative value is ignored, as
    the XDG specification asks); the folder is created on use.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    path = root / "qnrecovery" / "brian2"
    path.mkdir(parents=True, exist_ok=True)
    return path
