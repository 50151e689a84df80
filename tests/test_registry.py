"""The backend registry, and the promise that listing backends stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

import qnrecovery
from qnrecovery import registry
from qnrecovery.classical.placement import GreedyPlacer
from qnrecovery.exceptions import BackendNotFoundError, ConfigError
from qnrecovery.interfaces import KINDS
from qnrecovery.registry import available, backend, entries, get_backend_class, register

HEAVY = ("qiskit", "brian2", "dwave", "dimod", "sklearn")

BUILT_IN = {
    "predictor": {"logistic", "gradient-boosting", "rbf-svc"},
    "detector": {"zscore", "isolation-forest"},
    "path": {"dijkstra", "exhaustive"},
    "placer": {"greedy", "milp"},
}


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo every run-time registration a test makes."""
    saved = dict(registry._runtime)
    yield
    registry._runtime.clear()
    registry._runtime.update(saved)


class OtherPlacer(GreedyPlacer):
    """A placer class to register under other names."""


def test_available_lists_the_classical_backends_of_every_kind() -> None:
    names = available()
    assert list(names) == list(KINDS)
    for kind, expected in BUILT_IN.items():
        assert expected <= set(names[kind])
        assert names[kind] == sorted(names[kind])
    assert available("placer") == {"placer": names["placer"]}


def test_entries_name_their_origin() -> None:
    greedy = next(e for e in entries("placer") if e.name == "greedy")
    assert greedy.target == "qnrecovery.classical.placement:GreedyPlacer"
    assert greedy.origin == "qnrecovery"
    assert greedy.load() is GreedyPlacer


def test_backend_builds_an_instance_with_options() -> None:
    placer = backend("placer", "greedy")
    assert isinstance(placer, GreedyPlacer)
    assert backend("placer", "GREEDY", max_rounds=3).max_rounds == 3
    assert qnrecovery.backend is backend


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(
        BackendNotFoundError,
        match="Unknown backend kind 'router'; expected one of predictor, detector, "
        "path, placer",
    ):
        backend("router", "greedy")


def test_unknown_name_lists_the_known_names() -> None:
    with pytest.raises(BackendNotFoundError) as err:
        get_backend_class("placer", "nope")
    message = str(err.value)
    assert message.startswith("No placer backend named 'nope'; known placer backends:")
    assert "greedy" in message and "milp" in message
    assert isinstance(err.value, KeyError)


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"placer=greedy does not accept .*'nope'"):
        backend("placer", "greedy", nope=1)


def test_register_refuses_duplicates(clean_registry: None) -> None:
    with pytest.raises(ConfigError, match="placer=greedy is already registered"):
        register("placer", "greedy", OtherPlacer)

    register("placer", "My-Placer", OtherPlacer)
    assert "my-placer" in available("placer")["placer"]
    assert isinstance(backend("placer", "my-placer"), OtherPlacer)
    with pytest.raises(ConfigError, match="placer=my-placer is already registered"):
        register("placer", "MY-PLACER", GreedyPlacer)


def test_register_with_replace_overrides(clean_registry: None) -> None:
    register("placer", "greedy", OtherPlacer, replace=True)
    assert get_backend_class("placer", "greedy") is OtherPlacer
    assert available("placer")["placer"].count("greedy") == 1

    register("placer", "by-path", "qnrecovery.classical.placement:MILPPlacer")
    assert get_backend_class("placer", "by-path").__name__ == "MILPPlacer"


def test_replaced_backend_is_restored_by_the_fixture() -> None:
    # Runs after the test above; the fixture must have undone the override.
    assert get_backend_class("placer", "greedy") is GreedyPlacer


def test_register_an_unknown_kind_is_refused(clean_registry: None) -> None:
    with pytest.raises(BackendNotFoundError, match="Unknown backend kind 'router'"):
        register("router", "x", OtherPlacer)


def test_broken_target_is_reported(clean_registry: None) -> None:
    register("placer", "broken", "qnrecovery.no_such_module:Placer")
    with pytest.raises(BackendNotFoundError, match="could not be imported"):
        backend("placer", "broken")


def _modules_after(code: str) -> list[str]:
    """Heavy top-level modules loaded by running `code` in a fresh interpreter."""
    script = (
        "import sys, json\n"
        f"{code}\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
        "& set(heavy))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = "import qnrecovery, qnrecovery.registry\nqnrecovery.registry.available()"
    assert _modules_after(code) == []


@pytest.mark.parametrize("argv", [["--help"], ["backends"]])
def test_cli_help_and_listing_load_no_heavy_library(argv: list[str]) -> None:
    code = (
        "import runpy\n"
        f"sys.argv = ['qnrecovery', *{argv!r}]\n"
        "try:\n"
        "    runpy.run_module('qnrecovery', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )
    assert _modules_after(code) == []


def test_python_m_qnrecovery_help_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qnrecovery", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "qnrecovery" in done.stdout and "run" in done.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "typer" in imported  # the -X importtime listing is really there
    assert not imported & set(HEAVY)
