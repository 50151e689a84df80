"""Fleet simulation: failures from replayed segments, planner, placer, tiers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qnrecovery.config import PlannerConfig
from qnrecovery.exceptions import ConfigError
from qnrecovery.fleet import (
    FleetConfig,
    RecoveryTimeModel,
    ServerForecast,
    Step,
    simulate_fleet,
)
from qnrecovery.orchestrator.events import RecoveryEvent
from qnrecovery.orchestrator.tiers import TIERS

INTERVAL = 300.0


class Collect:
    """An event sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[RecoveryEvent] = []

    def emit(self, event: RecoveryEvent) -> None:
        self.events.append(event)

    def kinds(self, kind: str) -> list[RecoveryEvent]:
        return [e for e in self.events if e.kind == kind]


def server(
    name: str, faults: list[int], length: int = 2000, *, predicted: bool
) -> ServerForecast:
    """A server whose probability is 0.9 for the 6 rows before each fault."""
    p = np.zeros(length)
    if predicted:
        for f in faults:
            p[max(0, f - 6) : f] = 0.9
    return ServerForecast(name, p, faults, INTERVAL)


def fleet(predicted: bool) -> list[ServerForecast]:
    return [
        server("a", [100, 700, 1500], predicted=predicted),
        server("b", [50, 1200], predicted=predicted),
    ]


def run(predicted: bool = True, **settings: Any) -> dict[str, Any]:
    settings = {"components": 80, "days": 5.0, "cell_size": 40, **settings}
    return simulate_fleet(FleetConfig(**settings), servers=fleet(predicted))


def test_every_replayed_fault_is_simulated_once() -> None:
    report = run()
    n_rows = int(5 * 86_400 / INTERVAL)
    # Each component sees each fault row of its server once per 2000 rows,
    # and the simulated span (1440 rows) covers a fault row with probability
    # n_rows / 2000 (random offset), so 80 components see about this many:
    expected = 80 * (3 + 2) / 2 * n_rows / 2000
    assert 0.7 * expected < report["faults"] < 1.3 * expected
    assert report["recovered"] == report["faults"]
    assert report["unrecovered"] == 0
    assert sum(t["faults"] for t in report["tiers"].values()) == report["faults"]


def test_a_perfect_forecast_prepares_every_fault_and_wastes_nothing() -> None:
    report = run(predicted=True)
    prediction = report["prediction"]
    assert prediction["recall"] == 1.0
    assert prediction["predictive_recovery_rate"] == 1.0
    assert prediction["false_preparations"] == 0
    assert prediction["lead_time_s_p50"] == 6 * INTERVAL
    standard = report["tiers"]["standard"]
    # Prepared ahead, the standard tier's cold standby was backed by a hot one.
    assert standard["strategies"] == {"hot": standard["faults"]}
    assert standard["p99_ms"] < 50


def test_without_a_forecast_standard_components_start_cold() -> None:
    report = run(predicted=False)
    assert report["prediction"]["preparations"] == 0
    assert report["prediction"]["predictive_recovery_rate"] == 0.0
    standard = report["tiers"]["standard"]
    assert standard["strategies"] == {"cold": standard["faults"]}
    assert 90 < standard["p50_ms"] < 170
    assert report["standbys"]["prepared_share"] == 0.0
    assert report["tiers"]["critical"]["strategies"] == {
        "hot": report["tiers"]["critical"]["faults"]
    }


def test_false_preparations_are_counted_with_the_planner_rule() -> None:
    servers = fleet(predicted=True)
    servers[0].probabilities[300:305] = 0.95  # no fault follows within 12 rows
    report = simulate_fleet(
        FleetConfig(components=40, days=6.0, cell_size=40), servers=servers
    )
    prediction = report["prediction"]
    assert prediction["false_preparations"] > 0
    assert prediction["preparations"] == (
        prediction["preparations_needed"] + prediction["false_preparations"]
    )
    assert 0 < prediction["false_preparation_rate"] < 1


def test_failed_attempts_escalate_and_end_unrecovered() -> None:
    sink = Collect()
    timing = RecoveryTimeModel(attempt_failure={"hot": 1.0, "warm": 1.0, "cold": 1.0})
    report = simulate_fleet(
        FleetConfig(components=20, days=5.0, cell_size=20, timing=timing),
        servers=fleet(predicted=False),
        sinks=[sink],
    )
    assert report["faults"] > 0
    assert report["recovered"] == 0
    assert len(sink.kinds("unrecovered")) == report["faults"]
    tiers = report["tiers"]
    assert all(row["objective_misses"] == row["faults"] for row in tiers.values())
    # ultra-critical tries hot, warm, then cold: two escalations per fault.
    ultra = tiers["ultra-critical"]
    assert ultra["escalations"] == 2 * ultra["faults"]


def test_slow_cold_starts_miss_the_objective_and_emit_it() -> None:
    sink = Collect()
    timing = RecoveryTimeModel(start_cold=Step(5_000.0, 0.0))
    report = simulate_fleet(
        FleetConfig(components=40, days=5.0, cell_size=40, timing=timing),
        servers=fleet(predicted=False),
        sinks=[sink],
    )
    standard = report["tiers"]["standard"]
    assert standard["objective_misses"] == standard["faults"] > 0
    missed = sink.kinds("objective-missed")
    assert {e.tier for e in missed} == {"standard"}
    assert all(e.duration_s and e.duration_s > 5.0 for e in missed)


def test_the_same_seed_gives_the_same_report() -> None:
    a, b = run(seed=3), run(seed=3)
    c = run(seed=4)
    for report in (a, b, c):
        report.pop("timings")
    assert a == b
    assert a != c


def test_events_reach_the_sinks_with_simulated_times() -> None:
    sink = Collect()
    report = simulate_fleet(
        FleetConfig(components=20, days=5.0, cell_size=20),
        servers=fleet(predicted=True),
        sinks=[sink],
    )
    recovered = sink.kinds("recovered")
    assert len(recovered) == report["recovered"]
    assert len(sink.kinds("suspected")) == report["faults"]
    assert sink.kinds("prepared")
    span = [e.detail["sim_time_s"] for e in sink.events]
    assert min(span) >= 0 and max(span) <= 5 * 86_400


def test_standby_capacity_and_the_placer_are_respected() -> None:
    report = run()
    standbys = report["standbys"]
    assert 0 < standbys["utilisation"] <= 1
    assert report["placement"]["cells"] == 2
    assert report["backends"]["placer"]["name"] == "greedy"


def test_an_unplaceable_cell_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no feasible standby placement"):
        run(host_capacity=2.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"components": 0}, "`components` of FleetConfig must be a positive"),
        ({"days": -1.0}, "`days` of FleetConfig must be a positive number"),
        ({"days": float("nan")}, "`days` of FleetConfig"),
        ({"tiers": ("gold",)}, "`tiers` of FleetConfig must name tiers"),
        ({"profile": "fast"}, "`profile` of FleetConfig must be one of"),
        ({"backends": {"solver": "x"}}, "unknown backend kind"),
        ({"rebuild_s": -1.0}, "`rebuild_s` of FleetConfig"),
        ({"components": 100_000, "days": 365.0}, "more than the 50,000,000"),
        (
            {"timing": RecoveryTimeModel(attempt_failure={"hot": 2.0})},
            r"attempt_failure\['hot'\]",
        ),
        (
            {"timing": RecoveryTimeModel(detect=Step(0.0))},
            "`median_ms` of recovery step 'detect'",
        ),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_fleet(FleetConfig(**settings), servers=fleet(predicted=False))


def test_the_time_model_reproduces_the_measured_drill() -> None:
    """docs/benchmarks.md: hot 7.9/13.6, warm 7.2/16.8, cold 124.1/208.8 ms."""
    model = RecoveryTimeModel()
    rng = np.random.default_rng(0)
    measured = {"hot": (7.9, 13.6), "warm": (7.2, 16.8), "cold": (124.1, 208.8)}
    for kind, (p50, p99) in measured.items():
        draws = [
            model.detect_ms(rng) + model.activation_ms(kind, rng) for _ in range(20_000)
        ]
        got50, got99 = np.percentile(draws, [50, 99])
        assert got50 == pytest.approx(p50, rel=0.1), kind
        assert got99 == pytest.approx(p99, rel=0.1), kind


def test_thresholds_change_the_policy() -> None:
    servers = fleet(predicted=True)
    for s in servers:
        s.probabilities[s.probabilities > 0] = 0.6  # gradual, never immediate
    report = simulate_fleet(
        FleetConfig(components=40, days=5.0, cell_size=40), servers=servers
    )
    standard = report["tiers"]["standard"]
    # A gradual preparation gives the standard tier a warm standby, not a hot one.
    assert set(standard["strategies"]) == {"warm"}
    strict = simulate_fleet(
        FleetConfig(
            components=40,
            days=5.0,
            cell_size=40,
            planner=PlannerConfig(prepare=0.7, immediate=0.9),
        ),
        servers=servers,
    )
    assert strict["prediction"]["preparations"] == 0
    assert set(strict["tiers"]["standard"]["strategies"]) == {"cold"}
    assert TIERS["standard"].objective_ms == strict["tiers"]["standard"]["objective_ms"]


def test_a_simulation_history_calibrates_the_thresholds(tmp_path: Any) -> None:
    from qnrecovery.orchestrator.calibration import (
        CalibrationRecorder,
        load_calibration,
    )

    servers = fleet(predicted=True)
    servers[0].probabilities[300:305] = 0.55  # false alarms below 0.6
    path = tmp_path / "calibration.json"
    recorder = CalibrationRecorder(path, target_waste_rate=0.0, horizon_s=12 * INTERVAL)
    report = simulate_fleet(
        FleetConfig(components=40, days=6.0, cell_size=40),
        servers=servers,
        sinks=[recorder],
    )
    assert report["prediction"]["false_preparations"] > 0
    recorder.close()
    result, history = load_calibration(path)
    assert result is not None and history is not None
    assert result.met and result.waste_rate == 0.0
    assert 0.55 < result.prepare <= 0.9
    assert result.recall == 1.0
    assert history.n_failures == report["faults"]
