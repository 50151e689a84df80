"""What happens when a hardware job fails or runs out of time.

The policy is ``targets.fallback``:

``fail`` (default)
    Raise :class:`QPUJobError` (or :class:`QPUTimeoutError`), chained to the
    cause, with any token scrubbed from the message.
``simulator``
    Log a warning and run the local fallback instead; the result's ``info``
    carries ``fallback: true`` and the reason, so a report shows it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import SecretStr

from qnrecovery.exceptions import ConfigError, QnRecoveryError
from qnrecovery.qpu.credentials import redact

__all__ = [
    "FallbackPolicy",
    "FallbackResult",
    "QPUJobError",
    "QPUTimeoutError",
    "run_with_fallback",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

FallbackPolicy = Literal["fail", "simulator"]


class QPUJobError(QnRecoveryError, RuntimeError):
    """A job on a hardware target failed and the policy is to fail loudly."""


class QPUTimeoutError(QPUJobError, TimeoutError):
    """A job on a hardware target did not finish within its time-out."""


@dataclass(frozen=True)
class FallbackResult(Generic[T]):
    """A job's value and what ran it.

    Attributes
    ----------
    value : object
        What the job (or the fallback) returned.
    info : dict
        ``target`` (where it ran), ``asked`` (the target asked for),
        ``fallback`` (bool), ``reason`` (``None`` or why it fell back) and
        ``wall_s`` (seconds, both attempts included).
    """

    value: T
    info: dict[str, Any] = field(default_factory=dict)


def _call_with_timeout(job: Callable[[], T], timeout_s: float | None) -> T:
    """Run `job` in a daemon thread; raise TimeoutError past `timeout_s`."""
    if timeout_s is None:
        return job()

    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            box.put((True, job()))
        except BaseException as err:  # handed to the caller's thread
            box.put((False, err))

    threading.Thread(target=work, name="qpu-job", daemon=True).start()
    try:
        ok, value = box.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"no result within {timeout_s:g} s") from None
    if not ok:
        raise value
    return value


def run_with_fallback(
    job: Callable[[], T],
    fallback: Callable[[], T],
    *,
    policy: FallbackPolicy = "fail",
    timeout_s: float | None = None,
    target: str = "hardware",
    fallback_target: str = "local simulator",
    cancel: Callable[[], None] | None = None,
    secrets: tuple[SecretStr | str | None, ...] = (),
) -> FallbackResult[T]:
    """Run a hardware `job`, applying the fallback policy if it fails.

    Parameters
    ----------
    job : callable
        Submits the work and waits for its result.
    fallback : callable
        Computes the same thing locally; called only on failure under the
        ``simulator`` policy.
    policy : {"fail", "simulator"}, default="fail"
        Raise on failure, or log a warning and call `fallback`.
    timeout_s : float or None, default=None
        Longest wait for `job`, in seconds; ``None`` waits for ever.
    target, fallback_target : str
        Names for the log, the info and the error message.
    cancel : callable or None, default=None
        Called once when `job` times out (e.g. ``RuntimeJobV2.cancel``);
        its own failure is logged, not raised.
    secrets : tuple
        Tokens to scrub from any message that quotes the failure.

    Returns
    -------
    FallbackResult
        The value and ``info`` with ``fallback`` and ``reason``.

    Raises
    ------
    QPUTimeoutError
        If `job` timed out under the ``fail`` policy.
    QPUJobError
        If `job` raised under the ``fail`` policy.
    ConfigError
        If `policy` or `timeout_s` is invalid.
    """
    if policy not in ("fail", "simulator"):
        raise ConfigError(
            "policy of run_with_fallback must be 'fail' or 'simulator'; "
            f"got {policy!r}."
        )
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(
            "timeout_s of run_with_fallback must be positive or None; "
            f"got {timeout_s!r}."
        )

    start = time.perf_counter()
    try:
        value = _call_with_timeout(job, timeout_s)
    except Exception as err:
        reason = _reason(err, target, secrets)
        if isinstance(err, TimeoutError) and cancel is not None:
            _cancel_quietly(cancel, target)
        if policy == "fail":
            error = QPUTimeoutError if isinstance(err, TimeoutError) else QPUJobError
            raise error(
                f"{reason}. Set targets.fallback to 'simulator' to rerun on the "
                f"{fallback_target} instead."
            ) from _safe_cause(err, secrets)
        logger.warning("%s; falling back to the %s", reason, fallback_target)
        value = fallback()
        info = {"target": fallback_target, "fallback": True, "reason": reason}
    else:
        info = {"target": target, "fallback": False, "reason": None}

    info["asked"] = target
    info["wall_s"] = time.perf_counter() - start
    return FallbackResult(value, info)


def _reason(err: BaseException, target: str, secrets: tuple[Any, ...]) -> str:
    if isinstance(err, TimeoutError):
        what = f"timed out ({err})" if str(err) else "timed out"
    else:
        what = f"failed: {type(err).__name__}: {err}"
    return redact(f"job on {target} {what}", *secrets)


def _safe_cause(err: BaseException, secrets: tuple[Any, ...]) -> BaseException | None:
    # A cause that quotes a token is replaced by nothing rather than shown.
    text = str(err)
    return None if redact(text, *secrets) != text else err


def _cancel_quietly(cancel: Callable[[], None], target: str) -> None:
    try:
        cancel()
    except Exception as err:
        logger.warning(
            "cancelling the timed-out job on %s failed: %s", target, type(err).__name__
        )
