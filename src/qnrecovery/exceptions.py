"""Exceptions raised by qnrecovery.

Every error the package raises on purpose derives from :class:`QnRecoveryError`.
Subclasses also inherit the built-in exception they refine, so existing
``except ValueError`` clauses keep working::

    QnRecoveryError
    ├── ConfigError            (ValueError)   bad setting, unknown key, bad value
    ├── DataError              (ValueError)   malformed, missing or non-finite data
    ├── BackendNotFoundError   (KeyError)     unknown backend kind or name
    ├── NotFittedError         (AttributeError) estimator used before ``fit``
    ├── InfeasibleProblemError (ValueError)   a problem with no feasible solution
    ├── ResourceLimitError     (MemoryError)  a size the configured memory limit refuses
    ├── MissingCredentialsError (RuntimeError) a QPU target without credentials
    └── RuntimeFailure         (RuntimeError) a managed process or the router failed
        └── PortInUseError     (OSError)      a requested port is already bound
"""

from __future__ import annotations

__all__ = [
    "BackendNotFoundError",
    "ConfigError",
    "DataError",
    "InfeasibleProblemError",
    "MissingCredentialsError",
    "NotFittedError",
    "PortInUseError",
    "QnRecoveryError",
    "ResourceLimitError",
    "RuntimeFailure",
]


class QnRecoveryError(Exception):
    """Root of every error that qnrecovery raises on purpose."""


class ConfigError(QnRecoveryError, ValueError):
    """A setting is unknown, malformed or out of range."""


class DataError(QnRecoveryError, ValueError):
    """Input data is missing, malformed or not finite."""


class BackendNotFoundError(QnRecoveryError, KeyError):
    """No backend is registered under the requested kind and name."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better unquoted.
        return str(self.args[0]) if self.args else ""


class NotFittedError(QnRecoveryError, AttributeError):
    """An estimator was used before ``fit`` was called."""


class InfeasibleProblemError(QnRecoveryError, ValueError):
    """A problem has no solution that satisfies its constraints."""


class ResourceLimitError(QnRecoveryError, MemoryError):
    """A computation would need more memory than the configured limit."""


class MissingCredentialsError(QnRecoveryError, RuntimeError):
    """A remote target was chosen but its credentials are not set."""


class RuntimeFailure(QnRecoveryError, RuntimeError):
    """A managed worker process, the router or the client load failed."""


class PortInUseError(RuntimeFailure, OSError):
    """A requested TCP port is already bound by another process."""
