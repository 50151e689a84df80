"""One registry of backends by kind and name.

Built-in backends and third-party ones are declared the same way: as entry
points in the ``qnrecovery.backends`` group, named ``<kind>.<name>`` and
pointing at ``module:Class``. Nothing is imported until a backend is chosen,
so listing backends loads no Qiskit, Brian2 or Ocean. Code can also register
a class at run time with :func:`register`.

Examples
--------
>>> from qnrecovery.registry import backend
>>> placer = backend("placer", "greedy")
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from qnrecovery.exceptions import BackendNotFoundError, ConfigError
from qnrecovery.interfaces import KINDS

__all__ = [
    "BackendEntry",
    "available",
    "backend",
    "entries",
    "get_backend_class",
    "register",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qnrecovery.backends"


@dataclass(frozen=True)
class BackendEntry:
    """Where a backend comes from.

    Attributes
    ----------
    kind, name : str
        The backend's kind and lower-case name.
    target : str or type
        ``"module:Class"`` or the class itself.
    origin : str
        The distribution that declared it, or ``"runtime"``.
    """

    kind: str
    name: str
    target: str | type
    origin: str

    def load(self) -> type:
        """Import and return the backend class."""
        if isinstance(self.target, type):
            return self.target
        module_name, _, attribute = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute)
        except (ImportError, AttributeError) as err:
            raise BackendNotFoundError(
                f"Backend {self.kind}={self.name} points at {self.target!r}, which "
                f"could not be imported ({err}). Reinstall {self.origin!r}."
            ) from err


_runtime: dict[tuple[str, str], BackendEntry] = {}
_discovered: dict[tuple[str, str], BackendEntry] | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise BackendNotFoundError(
            f"Unknown backend kind {kind!r}; expected one of {', '.join(KINDS)}."
        )


def _discover() -> dict[tuple[str, str], BackendEntry]:
    global _discovered
    if _discovered is not None:
        return _discovered

    found: dict[tuple[str, str], BackendEntry] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        kind, _, name = point.name.partition(".")
        origin = point.dist.name if point.dist is not None else "unknown"
        if kind not in KINDS or not name:
            logger.warning(
                "Ignoring entry point %r from %s: names must be <kind>.<name> "
                "with kind one of %s.",
                point.name,
                origin,
                ", ".join(KINDS),
            )
            continue
        key = (kind, name.lower())
        if key in found:
            logger.warning(
                "Ignoring backend %s=%s from %s: %s already declares it.",
                kind,
                name,
                origin,
                found[key].origin,
            )
            continue
        found[key] = BackendEntry(kind, name.lower(), point.value, origin)

    _discovered = found
    return found


def entries(kind: str | None = None) -> list[BackendEntry]:
    """Every known backend, optionally of one kind, sorted by kind and name."""
    if kind is not None:
        _check_kind(kind)
    merged = {**_discover(), **_runtime}
    chosen = [e for e in merged.values() if kind is None or e.kind == kind]
    return sorted(chosen, key=lambda e: (KINDS.index(e.kind), e.name))


def available(kind: str | None = None) -> dict[str, list[str]]:
    """Names of the known backends, by kind."""
    names: dict[str, list[str]] = {k: [] for k in KINDS if kind in (None, k)}
    for entry in entries(kind):
        names[entry.kind].append(entry.name)
    return names


def register(
    kind: str, name: str, target: str | type, *, replace: bool = False
) -> None:
    """Register a backend class under ``kind`` and ``name`` for this process.

    Parameters
    ----------
    kind : {"predictor", "detector", "path", "placer"}
    name : str
        Lower-cased before use.
    target : type or str
        The class, or ``"module:Class"``.
    replace : bool, default=False
        Allow replacing a backend that is already known.

    Raises
    ------
    ConfigError
        If the name is taken and ``replace`` is false.
    """
    _check_kind(kind)
    key = (kind, name.lower())
    if not replace and (key in _runtime or key in _discover()):
        raise ConfigError(
            f"Backend {kind}={name.lower()} is already registered; "
            "pass replace=True to override it."
        )
    _runtime[key] = BackendEntry(kind, name.lower(), target, "runtime")


def get_backend_class(kind: str, name: str) -> type:
    """Return the class registered as ``kind`` / ``name``.

    Raises
    ------
    BackendNotFoundError
        If no such backend is registered; the message lists the known names.
    """
    _check_kind(kind)
    key = (kind, name.lower())
    entry = _runtime.get(key) or _discover().get(key)
    if entry is None:
        known = ", ".join(available(kind)[kind]) or "none"
        raise BackendNotFoundError(
            f"No {kind} backend named {name!r}; known {kind} backends: {known}."
        )
    return entry.load()


def backend(kind: str, name: str, **options: Any) -> Any:
    """Build the backend ``kind`` / ``name`` with ``options``.

    Raises
    ------
    BackendNotFoundError
        If no such backend is registered.
    ConfigError
        If the backend does not accept one of ``options``.
    """
    cls = get_backend_class(kind, name)
    try:
        return cls(**options)
    except TypeError as err:
        raise ConfigError(
            f"Backend {kind}={name} does not accept options {sorted(options)}: {err}"
        ) from err
