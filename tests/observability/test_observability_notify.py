"""Notifier: real HTTP against a local server, and a real command."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qnrecovery.config import DrillConfig
from qnrecovery.exceptions import ConfigError
from qnrecovery.observability import build_sinks, close_sinks
from qnrecovery.observability.metrics import MetricsExporter
from qnrecovery.observability.notify import Notifier
from qnrecovery.orchestrator.calibration import CalibrationRecorder
from qnrecovery.orchestrator.events import RecoveryEvent


class Hook:
    """A local webhook receiver: records bodies, fails the first ``fail`` posts."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.fail = fail
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                hook.requests += 1
                if hook.requests <= hook.fail:
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def unrecovered(name: str = "svc-1") -> RecoveryEvent:
    return RecoveryEvent(
        "unrecovered", name, "critical", reason="every standby failed", detail={"n": 1}
    )


def test_escalations_are_posted_as_json(hook: Hook) -> None:
    notifier = Notifier(webhook_url=hook.url, timeout_s=2)
    notifier.emit(unrecovered())
    notifier.emit(RecoveryEvent("recovered", "svc-2", "critical", duration_s=0.01))
    notifier.emit(
        RecoveryEvent("objective-missed", "svc-3", "standard", duration_s=2.5)
    )
    assert notifier.flush(10)
    notifier.close()

    assert [b["kind"] for b in hook.bodies] == ["unrecovered", "objective-missed"]
    first = hook.bodies[0]
    assert first["component"] == "svc-1" and first["tier"] == "critical"
    assert first["detail"] == {"n": 1} and first["source"] == "qnrecovery"
    assert hook.bodies[1]["duration_s"] == 2.5
    assert notifier.delivered == 2 and notifier.failed == 0


def test_a_failing_webhook_is_retried_a_bounded_number_of_times() -> None:
    hook = Hook(fail=2)
    try:
        notifier = Notifier(webhook_url=hook.url, retries=3, backoff_s=0.01)
        notifier.emit(unrecovered())
        assert notifier.flush(10)
        assert hook.requests == 3 and len(hook.bodies) == 1
        assert notifier.delivered == 1

        hook.fail, hook.requests = 100, 0
        notifier.emit(unrecovered("svc-2"))
        assert notifier.flush(10)
        notifier.close()
        assert hook.requests == 4  # one try and three retries
        assert notifier.failed == 1
    finally:
        hook.close()


def test_an_unreachable_webhook_never_blocks_the_caller() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = Notifier(
        webhook_url=f"http://127.0.0.1:{port}/", retries=2, backoff_s=0.05
    )
    started = time.perf_counter()
    for _ in range(5):
        notifier.emit(unrecovered())
    assert time.perf_counter() - started < 0.1
    assert notifier.flush(20)
    notifier.close()
    assert notifier.failed == 5 and notifier.delivered == 0


def test_a_full_queue_drops_events_instead_of_waiting(tmp_path: Path) -> None:
    slow = [sys.executable, "-c", "import time; time.sleep(0.5)"]
    notifier = Notifier(command=slow, queue_size=1, retries=0)
    for _ in range(4):
        notifier.emit(unrecovered())
    assert notifier.dropped >= 2
    assert notifier.flush(20)
    notifier.close()
    assert notifier.delivered + notifier.dropped == 4


def test_a_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    notifier = Notifier(command=[sys.executable, "-c", script], timeout_s=30)
    notifier.emit(unrecovered("svc-9"))
    notifier.close()
    body = json.loads(out.read_text())
    assert body["kind"] == "unrecovered" and body["component"] == "svc-9"
    assert notifier.delivered == 1


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        [sys.executable, "-c", "import time; time.sleep(5)"],
        ["/nonexistent/notify-me"],
    ],
    ids=["exit-status", "timeout", "missing-program"],
)
def test_a_failing_command_is_counted(command: list[str]) -> None:
    notifier = Notifier(command=command, timeout_s=0.5, retries=0)
    notifier.emit(unrecovered())
    notifier.close()
    assert notifier.failed == 1 and notifier.delivered == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "exactly one of webhook_url and command"),
        (
            {"webhook_url": "http://x", "command": ["true"]},
            "exactly one of webhook_url and command",
        ),
        ({"webhook_url": "ftp://x"}, "must start with http:// or https://"),
        ({"command": "notify --now"}, "no shell string"),
        ({"command": []}, "non-empty list"),
        ({"command": ["true"], "timeout_s": 0}, "`timeout_s` of Notifier"),
        ({"command": ["true"], "retries": -1}, "`retries` of Notifier"),
    ],
)
def test_bad_notifier_settings_are_refused(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Notifier(**settings)


def test_build_sinks_follows_the_drill_config(tmp_path: Path, hook: Hook) -> None:
    assert build_sinks(DrillConfig()) == []
    config = DrillConfig(
        metrics={"enabled": True, "port": 0},
        notifier={"webhook_url": hook.url},
        calibration={"path": tmp_path / "calibration.json", "target_waste_rate": 0.3},
    )
    sinks = build_sinks(config, period_s=300.0)
    try:
        metrics, notifier, recorder = sinks
        assert isinstance(metrics, MetricsExporter) and metrics.port
        assert isinstance(notifier, Notifier) and notifier.webhook_url == hook.url
        assert isinstance(recorder, CalibrationRecorder)
        assert recorder.horizon_s == 12 * 300.0
        assert recorder.target_waste_rate == 0.3
        for sink in sinks:
            sink.emit(unrecovered())
    finally:
        close_sinks(sinks)
    assert metrics.port is None
    assert [b["kind"] for b in hook.bodies] == ["unrecovered"]
    assert (tmp_path / "calibration.json").is_file()


def test_bad_observability_settings_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="give webhook_url or command"):
        DrillConfig(notifier={"webhook_url": "http://x", "command": ["true"]})
    with pytest.raises(ValidationError, match="less than or equal to 65535"):
        DrillConfig(metrics={"port": 70_000})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        DrillConfig(calibration={"target_waste_rate": 1.5})
