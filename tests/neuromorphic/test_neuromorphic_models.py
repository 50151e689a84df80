"""Model files: loading by name, units, the packaged folder and the cache folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from brian2 import Hz, ms, second

from qnrecovery.exceptions import ConfigError
from qnrecovery.neuromorphic import models
from qnrecovery.neuromorphic.models import (
    available_models,
    brian2_cache_dir,
    load_model,
    models_dir,
    parse_quantity,
)

REPO = Path(__file__).resolve().parents[2]


def test_default_model_loads_with_units():
    model = load_model("habituation_lif")
    assert "habituation_lif" in available_models()
    assert model.dt == 1 * ms
    assert model.parameters["tau_m"] == 5 * ms
    assert model.parameters["tau_rec"].dim == second.dim
    assert "plastic" in model.synapses["model"]
    assert "theta" in model.neurons["threshold"]  # adaptive threshold


def test_namespace_overrides_checked_for_units():
    model = load_model("habituation_lif")
    assert model.namespace({"tau_m": "7 ms"})["tau_m"] == 7 * ms
    with pytest.raises(ConfigError, match="unit of"):
        model.namespace({"tau_m": 3 * Hz})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20 ms", 20 * ms), ("5 Hz", 5 * Hz), ("1.5e-3 second", 1.5 * ms), ("0.3", 0.3)],
)
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["fast", "5 parsecs", "ms 5"])
def test_parse_quantity_refuses(text):
    with pytest.raises(ConfigError, match="`value`"):
        parse_quantity(text)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"available: .*habituation_lif"):
        load_model("no_such_model")


def test_model_missing_a_part_or_with_bad_dt(tmp_path, monkeypatch):
    (tmp_path / "broken.yaml").write_text("name: broken\ninput: {}\n")
    text = (REPO / "snn_models" / "habituation_lif.yaml").read_text()
    (tmp_path / "zero_dt.yaml").write_text(text.replace("dt: 1 ms", "dt: 0 ms"))
    monkeypatch.setattr(models, "models_dir", lambda: tmp_path)
    with pytest.raises(ConfigError, match="lacks input: equations"):
        load_model("broken")
    with pytest.raises(ConfigError, match="positive time"):
        load_model("zero_dt")


def test_model_folder_in_editable_install_and_in_wheel(tmp_path, monkeypatch):
    # Editable install: the package has no snn_models, the checkout has.
    assert models_dir() in (REPO / "snn_models", models_dir())
    assert (models_dir() / "habituation_lif.yaml").is_file()

    # Installed wheel: qnrecovery/snn_models inside the package wins.
    packaged = tmp_path / "qnrecovery"
    (packaged / "snn_models").mkdir(parents=True)
    (packaged / "snn_models" / "habituation_lif.yaml").write_text("x")
    monkeypatch.setattr(models, "files", lambda _: packaged)
    assert models_dir() == packaged / "snn_models"


def test_wheel_force_includes_the_model_folder():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["snn_models"] == "qnrecovery/snn_models"


def test_cache_dir_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert brian2_cache_dir() == tmp_path / "qnrecovery" / "brian2"
    assert brian2_cache_dir().is_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert brian2_cache_dir() == tmp_path / "home" / ".cache" / "qnrecovery" / "brian2"
