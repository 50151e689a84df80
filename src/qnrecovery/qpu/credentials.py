"""Credentials and optional clients of the hardware targets, checked offline.

Tokens are held as :class:`pydantic.SecretStr` and never formatted into a log
line, an exception or a report; :func:`redact` scrubs them out of messages
that come from the vendors' clients.

Where a token is looked for, first to last:

- IBM Quantum: ``targets.ibm.token`` in the config, ``QISKIT_IBM_TOKEN``, then
  the account saved by ``QiskitRuntimeService.save_account`` in
  ``~/.qiskit/qiskit-ibm.json`` (or the named ``targets.ibm.account_name``).
- D-Wave: ``targets.dwave.token`` in the config, ``DWAVE_API_TOKEN``, then the
  dwave config file (``dwave config create``; ``DWAVE_CONFIG_FILE`` moves it).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from qnrecovery.exceptions import ConfigError, MissingCredentialsError

if TYPE_CHECKING:
    from qnrecovery.config import DWaveConfig, IBMConfig

__all__ = [
    "QPU_EXTRA",
    "Credential",
    "dwave_credential",
    "ibm_account_file",
    "ibm_credential",
    "missing_extra",
    "redact",
    "require_dwave_token",
    "require_ibm_token",
    "require_module",
]

logger = logging.getLogger(__name__)

#: The install command that brings the QPU clients.
QPU_EXTRA = 'pip install "qnrecovery[qpu]"'

_MASK = "**********"


@dataclass(frozen=True)
class Credential:
    """A token and where it was found; ``repr`` and ``str`` never show it.

    Attributes
    ----------
    token : SecretStr or None
        The token, or ``None`` when none was found.
    source : str
        Where it was found (``'environment variable QISKIT_IBM_TOKEN'``...), or
        what was searched when it was not.
    extra : dict
        Other account fields found beside the token (channel, instance, url).
    """

    token: SecretStr | None
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Whether a non-empty token was found."""
        return self.token is not None and bool(self.token.get_secret_value())


def redact(text: str, *secrets: SecretStr | str | None) -> str:
    """Return `text` with every secret replaced by a mask.

    Examples
    --------
    >>> redact("bad token abc123", "abc123")
    'bad token **********'
    """
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if value:
            text = text.replace(value, _MASK)
    return text


def require_module(module: str, *, target: str) -> ModuleType:
    """Import `module` of the ``qpu`` extra, or say how to install it.

    Raises
    ------
    ConfigError
        If the module cannot be imported; the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"Target {target!r} needs {module}, which is not installed. Install "
            f"the QPU clients with: {QPU_EXTRA}"
        ) from err


def missing_extra(modules: tuple[str, ...]) -> list[str]:
    """Return the modules of `modules` that cannot be imported."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def _env_token(name: str) -> SecretStr | None:
    value = os.environ.get(name, "").strip()
    return SecretStr(value) if value else None


def ibm_account_file() -> Path:
    """The file ``QiskitRuntimeService.save_account`` writes, under ``$HOME``."""
    return Path(os.path.expanduser("~")) / ".qiskit" / "qiskit-ibm.json"


def ibm_credential(settings: IBMConfig | None = None) -> Credential:
    """Find the IBM Quantum token without contacting IBM.

    Parameters
    ----------
    settings : IBMConfig or None
        The ``targets.ibm`` section; ``None`` uses the defaults.

    Returns
    -------
    Credential
        ``found`` is false when neither the config, ``QISKIT_IBM_TOKEN`` nor a
        saved account holds a token.
    """
    if settings is not None and settings.token is not None:
        return Credential(settings.token, "config key targets.ibm.token")

    token = _env_token("QISKIT_IBM_TOKEN")
    if token is not None and not (settings and settings.account_name):
        return Credential(token, "environment variable QISKIT_IBM_TOKEN")

    return _saved_ibm_account(settings.account_name if settings else None)


def _saved_ibm_account(name: str | None) -> Credential:
    file = ibm_account_file()
    searched = "config key targets.ibm.token, QISKIT_IBM_TOKEN and " + str(file)
    if not file.is_file():
        return Credential(None, searched)
    try:
        accounts = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("IBM account file %s could not be read as JSON", file)
        return Credential(None, searched)
    if not isinstance(accounts, dict):
        return Credential(None, searched)

    chosen = accounts.get(name) if name else _default_ibm_account(accounts)
    if not isinstance(chosen, dict) or not chosen.get("token"):
        where = f"account {name!r} in {file}" if name else searched
        return Credential(None, where)
    extra = {k: chosen[k] for k in ("channel", "instance", "url") if chosen.get(k)}
    return Credential(
        SecretStr(str(chosen["token"])), f"saved account in {file}", extra
    )


def _default_ibm_account(accounts: dict[str, Any]) -> Any:
    for account in accounts.values():
        if isinstance(account, dict) and account.get("is_default_account"):
            return account
    return next(iter(accounts.values()), None)


def dwave_credential(settings: DWaveConfig | None = None) -> Credential:
    """Find the D-Wave Leap token without contacting D-Wave.

    Reading the dwave config file needs ``dwave-cloud-client`` (the ``qpu``
    extra); without it only the config and ``DWAVE_API_TOKEN`` are searched.
    """
    if settings is not None and settings.token is not None:
        return Credential(settings.token, "config key targets.dwave.token")

    token = _env_token("DWAVE_API_TOKEN")
    if token is not None:
        return Credential(token, "environment variable DWAVE_API_TOKEN")

    searched = (
        "config key targets.dwave.token, DWAVE_API_TOKEN and the dwave config file"
    )
    try:
        from dwave.cloud.config import load_config
    except ImportError:
        return Credential(None, searched)
    try:
        loaded = load_config(profile=settings.profile if settings else None)
    except Exception as err:  # a malformed file or an unknown profile
        logger.warning(
            "the dwave config file could not be read (%s)", type(err).__name__
        )
        return Credential(None, searched)
    if not loaded.get("token"):
        return Credential(None, searched)
    extra = {k: loaded[k] for k in ("endpoint", "region", "solver") if loaded.get(k)}
    return Credential(SecretStr(str(loaded["token"])), "the dwave config file", extra)


def require_ibm_token(settings: IBMConfig | None, *, target: str) -> Credential:
    """Return the IBM credential, or raise naming what to set.

    Raises
    ------
    MissingCredentialsError
        If no token is found.
    """
    credential = ibm_credential(settings)
    if not credential.found:
        raise MissingCredentialsError(
            f"Target {target!r} needs IBM Quantum credentials; none found in "
            f"{credential.source}. Set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE) "
            "or save an account with QiskitRuntimeService.save_account()."
        )
    return credential


def require_dwave_token(settings: DWaveConfig | None, *, target: str) -> Credential:
    """Return the D-Wave credential, or raise naming what to set.

    Raises
    ------
    MissingCredentialsError
        If no token is found.
    """
    credential = dwave_credential(settings)
    if not credential.found:
        raise MissingCredentialsError(
            f"Target {target!r} needs a D-Wave Leap token; none found in "
            f"{credential.source}. Set DWAVE_API_TOKEN or run 'dwave config create'."
        )
    return credential
