"""Drill settings: defaults, files, overrides and the errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qnrecovery.config import (
    PROFILES,
    DrillConfig,
    PlannerConfig,
    load_config,
    parse_backend_options,
)
from qnrecovery.drill import choose_backend, plan_drill
from qnrecovery.exceptions import BackendNotFoundError, ConfigError, DataError
from qnrecovery.orchestrator.tiers import TIERS
from qnrecovery.registry import available


def test_defaults() -> None:
    config = DrillConfig()
    assert config.data is None and config.components == 4
    assert config.profile == "quantum" and config.backends == {}
    assert (config.duration_s, config.speed, config.seed) == (60.0, None, 0)
    assert config.planner == PlannerConfig(prepare=0.5, immediate=0.8, horizon_rows=12)
    assert [config.tier_of(i) for i in range(5)] == [*TIERS, "ultra-critical"]
    assert config.backend_name("placer") == PROFILES["quantum"]["placer"]
    assert load_config() == config


def test_explicit_tiers_and_backends_override_the_defaults() -> None:
    config = DrillConfig(tiers=["standard", "critical"], backends={"placer": "greedy"})
    assert [config.tier_of(i) for i in range(3)] == ["standard", "critical"] * 1 + [
        "standard"
    ]
    assert config.backend_name("placer") == "greedy"
    assert config.backend_name("path") == PROFILES["quantum"]["path"]


YAML_TEXT = """\
components: 2
profile: classical
backends:
  placer: greedy
planner:
  prepare: 0.6
"""


def test_yaml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(YAML_TEXT, encoding="utf-8")

    config = load_config(path)
    assert (config.components, config.profile) == (2, "classical")
    assert config.backends == {"placer": "greedy"}
    assert config.planner.prepare == 0.6 and config.planner.immediate == 0.8

    merged = load_config(path, components=3, seed=None, backends={"path": "exhaustive"})
    assert merged.components == 3 and merged.seed == 0
    assert merged.backends == {"placer": "greedy", "path": "exhaustive"}


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "drill.json"
    path.write_text(
        json.dumps(
            {"data": "telemetry/omi-1.npz", "speed": 500, "tiers": ["critical"]}
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.data == Path("telemetry/omi-1.npz")
    assert config.speed == 500.0 and config.tiers == ["critical"]


def test_empty_yaml_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("# nothing set\n", encoding="utf-8")
    assert load_config(path) == DrillConfig()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("componnets: 2\n", r"componnets: unknown key"),
        ("planner:\n  prepar: 0.3\n", r"planner\.prepar: unknown key"),
        ("components: 0\n", r"components: Input should be greater than or equal to 1"),
        ("speed: .inf\n", r"speed: .*must be a finite number"),
        ("tiers: [gold]\n", r"tiers: .*unknown tier\(s\) \['gold'\]"),
        ("backends: {quantum: x}\n", r"backends: .*unknown backend kind\(s\)"),
        ("profile: fancy\n", r"profile: Input should be 'quantum' or 'classical'"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_bad_keyword_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^config: components: .*1"):
        load_config(components=0)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("broken.yaml", "components: [1, 2\n", "is not valid YAML"),
        ("broken.json", '{"components": 2', "is not valid"),
        ("list.yaml", "- components\n- 2\n", "must hold a mapping .* got list"),
        ("text.yaml", "just words\n", "must hold a mapping .* got str"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_parse_backend_options() -> None:
    assert parse_backend_options([]) == {}
    assert parse_backend_options(["placer=greedy", " path = dijkstra "]) == {
        "placer": "greedy",
        "path": "dijkstra",
    }


@pytest.mark.parametrize(
    ("pair", "match"),
    [
        ("foo", r"--backend expects KIND=NAME \(e\.g\. placer=milp\); got 'foo'"),
        ("placer=", "got 'placer='"),
        ("=greedy", "got '=greedy'"),
        ("quantum=x", r"unknown kind 'quantum'; expected one of predictor, detector"),
    ],
)
def test_parse_backend_options_refuses(pair: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_backend_options([pair])


def test_explicitly_named_unknown_backend_fails_the_plan() -> None:
    config = DrillConfig(backends={"placer": "no-such-placer"})
    with pytest.raises(
        BackendNotFoundError, match="No placer backend named 'no-such-placer'"
    ):
        plan_drill(config)


def test_profile_backend_that_is_missing_falls_back_to_classical(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PROFILES["quantum"], "placer", "no-such-placer")
    chosen = choose_backend(DrillConfig(profile="quantum"), "placer")
    described = chosen.describe()
    assert described["fallback"] is True
    assert (described["name"], described["asked"]) == ("milp", "no-such-placer")
    assert described["class"] == "qnrecovery.classical.placement.MILPPlacer"


@pytest.mark.parametrize("kind", list(PROFILES["quantum"]))
def test_quantum_profile_resolves_every_kind(kind: str) -> None:
    asked = PROFILES["quantum"][kind]
    described = choose_backend(DrillConfig(profile="quantum"), kind).describe()
    assert described["asked"] == asked
    if asked in available(kind)[kind]:
        assert (described["name"], described["fallback"]) == (asked, False)
    else:
        assert described["name"] == PROFILES["classical"][kind]
        assert described["fallback"] is True


def test_classical_profile_never_falls_back() -> None:
    config = DrillConfig(profile="classical", backend_options={"placer": {"x": 1}})
    for kind, name in PROFILES["classical"].items():
        described = choose_backend(config, kind).describe()
        assert (described["name"], described["fallback"]) == (name, False)
    placer = choose_backend(config, "placer")
    assert placer.options == {"x": 1}
    with pytest.raises(ConfigError, match="placer=milp does not accept options"):
        placer.build(seed=0)


def test_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00components: 2")
    with pytest.raises(ConfigError, match=r"binary\.yaml is not valid: 'utf-8' codec"):
        load_config(path)


def test_nan_policy_reaches_the_loader(tmp_path: Path) -> None:
    import numpy as np

    from qnrecovery.drill import load_servers

    test = np.ones((20, 3))
    test[4, 1] = np.nan
    path = tmp_path / "omi-nan.npz"
    np.savez(path, train=np.ones((10, 3)), test=test, test_label=np.zeros(20))

    with pytest.raises(DataError, match="NaN"):
        load_servers(DrillConfig(data=path))
    servers = load_servers(DrillConfig(data=path, nan_policy="ffill"))
    assert np.isfinite(servers[0].test).all()


def test_planner_thresholds_out_of_order_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"planner: .*prepare \(0\.9\) must not"):
        load_config(planner={"prepare": 0.9, "immediate": 0.5})
