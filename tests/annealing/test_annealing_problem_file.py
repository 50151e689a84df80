"""Placement problem files and ``qnrecovery place``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qnrecovery.annealing.problem_file import (
    load_placement_problem,
    parse_placement_problem,
)
from qnrecovery.classical.placement import MILPPlacer
from qnrecovery.cli import app
from qnrecovery.exceptions import ConfigError
from qnrecovery.orchestrator.tiers import StandbyKind

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "placement.yaml"


def base() -> dict[str, Any]:
    return {
        "hosts": [
            {"name": "h1", "capacity": 8, "domain": "a"},
            {"name": "h2", "capacity": 8, "domain": "b", "failure_probability": 0.1},
            {"name": "h3", "capacity": 8, "domain": "c", "cost": 2},
        ],
        "services": [
            {"name": "db", "tier": "ultra-critical", "demand": 2, "primary_host": "h1"},
            {"name": "web", "tier": "standard", "demand": 1, "primary_host": "h2"},
        ],
        "latency_ms": {"h1": {"h2": 1.5, "h3": 3.0}},
    }


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def flat(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------- loading


def test_example_file_loads() -> None:
    problem = load_placement_problem(EXAMPLE)
    assert len(problem.services) == 8
    assert len(problem.hosts) == 6
    assert problem.latency("h2", "h1") == 0.2
    assert problem.reservation is not None
    assert problem.reservation[StandbyKind.COLD] == 0.1
    assert MILPPlacer().place(problem).feasible


def test_json_and_yaml_agree(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "p.json").write_text(json.dumps(base()))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(base()))
    a = load_placement_problem(tmp_path / "p.json")
    b = load_placement_problem(tmp_path / "p.yaml")
    assert a == b
    assert a.latency("h3", "h1") == 3.0


def test_options_reach_the_problem() -> None:
    data = base() | {
        "standbys": {"standard": ["warm"]},
        "reservation": {"warm": 0.25},
        "weights": {"latency": 2.0, "risk": 1.0, "cost": 0.0},
        "default_latency_ms": 7.0,
    }
    problem = parse_placement_problem(data)
    assert [s.key for s in problem.slots()] == ["db/hot", "db/warm", "web/warm"]
    assert problem.reserved(problem.slots()[2]) == 0.25
    assert problem.latency_weight == 2.0
    assert problem.latency("h2", "h3") == 7.0


def test_unknown_primary_host_named() -> None:
    data = base()
    data["services"][1]["primary_host"] = "h9"
    with pytest.raises(ConfigError, match=r"services\.1 \(web\) names primary_host"):
        parse_placement_problem(data)


def test_unknown_host_in_latency_named() -> None:
    data = base()
    data["latency_ms"] = {"h1": {"hx": 2.0}}
    with pytest.raises(
        ConfigError, match=r"latency_ms\.h1\.hx names unknown host 'hx'"
    ):
        parse_placement_problem(data)


def test_negative_demand_named() -> None:
    data = base()
    data["services"][0]["demand"] = -2
    with pytest.raises(
        ConfigError, match=r"services\.0\.demand: Input should be greater"
    ):
        parse_placement_problem(data)


def test_zero_services_refused() -> None:
    data = base()
    data["services"] = []
    with pytest.raises(ConfigError, match="services: List should have at least 1"):
        parse_placement_problem(data)


def test_zero_capacity_host_is_accepted() -> None:
    data = base()
    data["hosts"][2]["capacity"] = 0
    problem = parse_placement_problem(data)
    assert problem.host("h3").capacity == 0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["hosts"][0].update(capacity=-1), "hosts.0.capacity"),
        (lambda d: d["hosts"][1].update(failure_probability=1.5), "hosts.1.failure"),
        (lambda d: d["services"][0].update(tier="gold"), "tier 'gold' is unknown"),
        (lambda d: d["hosts"].append(dict(d["hosts"][0])), "host name 'h1' appears"),
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d.update(standbys={"gold": ["hot"]}), "unknown tier 'gold'"),
        (lambda d: d.update(reservation={"tepid": 0.5}), "reservation.tepid"),
        (lambda d: d.pop("hosts"), "hosts: Field required"),
    ],
)
def test_bad_fields_named(change: Any, match: str) -> None:
    data = base()
    change(data)
    with pytest.raises(ConfigError, match=match):
        parse_placement_problem(data)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("p.yaml", "hosts: [unclosed", "not valid YAML"),
        ("p.json", "{bad json", "not valid JSON"),
        ("p.yaml", "- just\n- a list\n", "must hold a mapping"),
        ("p.yaml", "", "must hold a mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_placement_problem(tmp_path / name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_placement_problem(tmp_path / "nope.yaml")


# -------------------------------------------------------------- the command


def test_place_command_prints_assignment_objective_and_slack(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "solution.json"
    result = runner.invoke(
        app, ["place", str(EXAMPLE), "--seed", "0", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "Standby placement (annealing)" in text
    assert "orders-db/hot" in text
    assert "objective:" in text
    assert "capacity[h6]" in text
    assert "domains[orders-db]" in text
    saved = json.loads(out.read_text())
    exact = MILPPlacer().place(load_placement_problem(EXAMPLE))
    assert saved["feasible"]
    assert saved["objective"] == pytest.approx(exact.objective, rel=1e-6)
    assert {row["name"] for row in saved["slack"]} >= {"capacity[h1]"}
    assert all(row["slack"] >= 0 for row in saved["slack"])


def test_place_command_other_placer_and_options(runner: CliRunner) -> None:
    result = runner.invoke(app, ["place", str(EXAMPLE), "--placer", "milp"])
    assert result.exit_code == 0, result.output
    assert "Standby placement (milp)" in flat(result.stdout)
    result = runner.invoke(
        app,
        ["place", str(EXAMPLE), "--option", "num_reads=5", "--option", "repair=true"],
    )
    assert result.exit_code == 0, result.output


def test_place_command_infeasible_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    data = base()
    for host in data["hosts"][1:]:
        host["domain"] = "a"
    (tmp_path / "one-domain.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["place", str(tmp_path / "one-domain.json")])
    assert result.exit_code == 1, result.output
    text = flat(result.stdout)
    assert "no feasible placement" in text
    assert "domains[db]" in text
    assert "short by 2" in text


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--placer", "nope"], "No placer backend named 'nope'"),
        (["--option", "bogus=1"], "does not accept options ['bogus']"),
        (["--option", "novalue"], "--option expects KEY=VALUE"),
    ],
)
def test_place_command_bad_arguments(runner: CliRunner, args: list, match: str) -> None:
    result = runner.invoke(app, ["place", str(EXAMPLE), *args])
    assert result.exit_code == 2
    assert match in flat(result.stderr)


def test_place_command_bad_file(runner: CliRunner, tmp_path: Path) -> None:
    data = base()
    data["services"][0]["demand"] = -1
    (tmp_path / "bad.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["place", str(tmp_path / "bad.json")])
    assert result.exit_code == 2
    assert "services.0.demand" in flat(result.stderr)
