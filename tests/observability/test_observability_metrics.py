"""Prometheus exporter: a real HTTP endpoint, scraped and parsed."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from qnrecovery.exceptions import ConfigError, PortInUseError
from qnrecovery.observability.metrics import MetricsExporter
from qnrecovery.orchestrator.events import RecoveryEvent, emit


@pytest.fixture
def exporter() -> Iterator[MetricsExporter]:
    exporter = MetricsExporter(port=0)
    exporter.start()
    yield exporter
    exporter.stop()


def scrape(port: int) -> dict[str, float]:
    """Every sample of /metrics as ``name{label=value,...}`` to value."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def test_events_are_counted_and_served_over_http(exporter: MetricsExporter) -> None:
    assert exporter.port and exporter.port > 0
    events = [
        RecoveryEvent("suspected", "svc-1", "critical", reason="exit"),
        RecoveryEvent("suspected", "svc-1", "critical", reason="phi"),
        RecoveryEvent("prepared", "svc-2", "standard", reason="immediate"),
        RecoveryEvent("recovered", "svc-1", "critical", duration_s=0.008, reason="hot"),
        RecoveryEvent("recovered", "svc-3", "critical", duration_s=0.3, reason="hot"),
        RecoveryEvent("escalated", "svc-4", "standard", reason="warm"),
        RecoveryEvent("unrecovered", "svc-4", "standard"),
        RecoveryEvent("objective-missed", "svc-5", "standard", duration_s=3.0),
    ]
    emit([exporter], events[0])
    for event in events[1:]:
        exporter.emit(event)

    samples = scrape(exporter.port)
    assert samples["qnrecovery_suspicions_total{reason=exit,tier=critical}"] == 1
    assert samples["qnrecovery_suspicions_total{reason=phi,tier=critical}"] == 1
    assert samples["qnrecovery_preparations_total{level=immediate,tier=standard}"] == 1
    assert (
        samples[
            "qnrecovery_recoveries_total{outcome=recovered,standby=hot,tier=critical}"
        ]
        == 2
    )
    assert (
        samples[
            "qnrecovery_recoveries_total{outcome=unrecovered,standby=none,tier=standard}"
        ]
        == 1
    )
    assert samples["qnrecovery_escalations_total{standby=warm,tier=standard}"] == 1
    assert samples["qnrecovery_objective_misses_total{tier=standard}"] == 1
    histogram = "qnrecovery_recovery_duration_seconds"
    assert samples[f"{histogram}_count{{tier=critical}}"] == 2
    assert samples[f"{histogram}_sum{{tier=critical}}"] == pytest.approx(0.308)
    assert samples[f"{histogram}_bucket{{le=0.01,tier=critical}}"] == 1
    assert samples[f"{histogram}_bucket{{le=0.25,tier=critical}}"] == 1
    assert samples[f"{histogram}_bucket{{le=0.5,tier=critical}}"] == 2


def test_the_endpoint_binds_loopback_and_stops_cleanly() -> None:
    exporter = MetricsExporter(port=0)
    port = exporter.start()
    assert exporter.host == "127.0.0.1"
    assert exporter._server.server_address[0] == "127.0.0.1"
    assert exporter.start() == port  # starting twice keeps the endpoint
    exporter.stop()
    assert exporter.port is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    exporter.stop()  # stopping twice is harmless


def test_exporters_keep_their_own_registry() -> None:
    a, b = MetricsExporter(port=0), MetricsExporter(port=0)
    a.emit(RecoveryEvent("drained", "svc-1", "critical"))
    assert "qnrecovery_drains_total" in a.exposition()
    assert 'tier="critical"' in a.exposition()
    assert 'tier="critical"' not in b.exposition()
    assert (
        REGISTRY.get_sample_value("qnrecovery_drains_total", {"tier": "critical"})
        is None
    )


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        exporter = MetricsExporter(port=port)
        with pytest.raises(
            PortInUseError, match=f"Cannot serve metrics on 127.0.0.1:{port}"
        ):
            exporter.start()


def test_a_port_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="`port` of MetricsExporter"):
        MetricsExporter(port=70_000).start()
