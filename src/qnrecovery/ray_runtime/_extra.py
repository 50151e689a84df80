"""The optional ``ray`` extra: import Ray or say how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from qnrecovery.exceptions import ConfigError

__all__ = ["RAY_EXTRA", "require_ray"]

#: The install command that brings Ray.
RAY_EXTRA = 'pip install "qnrecovery[ray]"'


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
