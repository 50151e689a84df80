"""The fallback policy: fail loudly, or rerun locally with a visible marker."""

from __future__ import annotations

import logging
import threading

import pytest

from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.fallback import QPUJobError, QPUTimeoutError, run_with_fallback


class FailingJob:
    """A job whose result raises, as a rejected hardware job does."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.calls = 0

    def result(self) -> dict[str, int]:
        self.calls += 1
        raise RuntimeError(self.message)


class StuckJob:
    """A job that never finishes until it is cancelled."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def result(self) -> dict[str, int]:
        self.cancelled.wait(timeout=30)
        raise RuntimeError("cancelled")

    def cancel(self) -> None:
        self.cancelled.set()


def local() -> dict[str, int]:
    return {"00": 512, "11": 512}


def test_a_successful_job_is_marked_as_run_on_hardware() -> None:
    outcome = run_with_fallback(lambda: {"1": 3}, local, target="ibm:ibm_torino")
    assert outcome.value == {"1": 3}
    assert outcome.info["fallback"] is False and outcome.info["reason"] is None
    assert outcome.info["target"] == outcome.info["asked"] == "ibm:ibm_torino"
    assert outcome.info["wall_s"] >= 0


def test_the_default_policy_fails_loudly() -> None:
    job = FailingJob("backend ibm_torino is under maintenance")
    with pytest.raises(
        QPUJobError,
        match=r"job on ibm:ibm_torino failed: RuntimeError: backend ibm_torino is "
        r"under maintenance\. Set targets\.fallback to 'simulator'",
    ) as caught:
        run_with_fallback(job.result, local, target="ibm:ibm_torino")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert job.calls == 1


def test_the_simulator_policy_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = FailingJob("queue full")
    with caplog.at_level(logging.WARNING, logger="qnrecovery.qpu.fallback"):
        outcome = run_with_fallback(
            job.result,
            local,
            policy="simulator",
            target="dwave:Adv",
            fallback_target="neal",
        )

    assert outcome.value == local()
    assert outcome.info["fallback"] is True
    assert outcome.info["target"] == "neal" and outcome.info["asked"] == "dwave:Adv"
    assert outcome.info["reason"] == "job on dwave:Adv failed: RuntimeError: queue full"
    assert "falling back to the neal" in caplog.text
    assert [r.levelname for r in caplog.records] == ["WARNING"]


@pytest.mark.parametrize("policy", ["fail", "simulator"])
def test_a_job_past_its_timeout_is_cancelled(policy: str) -> None:
    job = StuckJob()
    if policy == "fail":
        with pytest.raises(
            QPUTimeoutError, match=r"timed out .*no result within 0\.2 s"
        ):
            run_with_fallback(job.result, local, timeout_s=0.2, cancel=job.cancel)
        assert isinstance(QPUTimeoutError("x"), TimeoutError)
    else:
        outcome = run_with_fallback(
            job.result, local, policy="simulator", timeout_s=0.2, cancel=job.cancel
        )
        assert outcome.info["fallback"] and "timed out" in outcome.info["reason"]
    assert job.cancelled.is_set()


def test_a_failing_cancel_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = StuckJob()

    def cancel() -> None:
        job.cancel()
        raise ConnectionError("gone")

    outcome = run_with_fallback(
        job.result, local, policy="simulator", timeout_s=0.1, cancel=cancel
    )
    assert outcome.info["fallback"]
    assert "cancelling the timed-out job on hardware failed: ConnectionError" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "retry"}, "policy of run_with_fallback must be 'fail' or"),
        ({"timeout_s": 0}, "timeout_s of run_with_fallback must be positive"),
        ({"timeout_s": -1.0}, "timeout_s of run_with_fallback must be positive"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_with_fallback(local, local, **kwargs)
