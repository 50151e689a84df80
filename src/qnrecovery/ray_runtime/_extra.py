"""The optional ``ray`` extra: import Ray or say how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from qnrecovery.exceptions import ConfigError

__all__ = ["RAY_EXTRA", "join_ray", "require_ray"]

#: The install command that brings Ray.
RAY_EXTRA = 'pip install "qnrecovery[ray]" (in a source checkout: pip install ".[ray]")'


def require_ray(what: str = "the Ray runtime") -> ModuleType:
    """Import :mod:`ray`, or raise an error that names the extra.

    Parameters
    ----------
    what : str, default="the Ray runtime"
        What needs Ray, for the message.

    Returns
    -------
    module
        The imported ``ray`` package.

    Raises
    ------
    ConfigError
        If Ray cannot be imported.
    """
    try:
        return importlib.import_module("ray")
    except ImportError as err:
        raise ConfigError(
            f"{what} needs Ray, which is not installed ({err}). Install the "
            f"optional 'ray' extra with: {RAY_EXTRA}"
        ) from err


def join_ray(address: str | None = None, what: str = "Ray") -> tuple[ModuleType, bool]:
    """Import Ray and start or join a session, unless this process has one.

    Parameters
    ----------
    address : str, optional
        An existing cluster (``"auto"``, ``"ray://host:10001"``); ``None``
        starts a local Ray instance.
    what : str, default="Ray"
        What needs Ray, for the messages.

    Returns
    -------
    ray : module
    started : bool
        True if this call started or joined the session (the caller then
        shuts it down), False if the process already had one.

    Raises
    ------
    ConfigError
        If Ray is not installed, or the cluster at `address` cannot be
        reached.
    """
    ray = require_ray(what)
    if ray.is_initialized():
        return ray, False
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except ConnectionError as err:
        raise ConfigError(
            f"{what}: cannot reach the Ray cluster at {address!r}: {err}. Start "
            "it with `ray start --head`, or leave out the address for a local "
            "instance."
        ) from err
    return ray, True
