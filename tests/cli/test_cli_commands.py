"""The ``qnrecovery`` command line: version, backend listing and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qnrecovery._version import __version__
from qnrecovery.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def flat(text: str) -> str:
    """The output with line wrapping undone."""
    return " ".join(text.split())


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"qnrecovery {__version__}"


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "run" in result.output and "backends" in result.output


def test_backends_lists_the_registered_names(runner: CliRunner) -> None:
    result = runner.invoke(app, ["backends"])
    assert result.exit_code == 0, result.output
    for name in ("logistic", "zscore", "dijkstra", "greedy", "milp"):
        assert name in result.stdout
    assert "qnrecovery.classical.placement:GreedyPlacer" in result.stdout


def test_run_with_an_unknown_config_key_exits_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("componnets: 2\n", encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(config), "--quiet"])
    assert result.exit_code == 2
    assert "componnets: unknown key" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_run_with_missing_data_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--data", "/nonexistent", "--quiet"])
    assert result.exit_code == 2
    assert "error: Telemetry path /nonexistent does not exist." in flat(result.stderr)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nope", "--backend expects KIND=NAME (e.g. placer=milp); got 'nope'."),
        ("quantum=x", "unknown kind 'quantum'"),
        ("placer=nope", "No placer backend named 'nope'; known placer backends:"),
    ],
)
def test_run_with_a_bad_backend_exits_2(
    runner: CliRunner, option: str, message: str
) -> None:
    result = runner.invoke(app, ["run", "--backend", option, "--quiet"])
    assert result.exit_code == 2
    assert message in flat(result.stderr)


def test_run_with_a_bad_option_value_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--components", "0", "--quiet"])
    assert result.exit_code == 2
    assert "components: Input should be greater than or equal to 1" in flat(
        result.stderr
    )


def test_run_refuses_an_output_folder_that_does_not_exist(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["run", "--json", str(tmp_path / "missing" / "r.json"), "--quiet"]
    )

    assert result.exit_code == 2
    assert "does not exist" in flat(result.stderr)


def test_run_refuses_an_unknown_runtime(runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--runtime", "kubernetes"])
    assert result.exit_code == 2
    assert "unknown runtime 'kubernetes'" in flat(result.output)


@pytest.mark.parametrize(
    "option", [["--duration", "5"], ["--plot", "t.png"], ["--profile", "classical"]]
)
def test_run_on_ray_refuses_options_of_the_local_drill(
    runner: CliRunner, option: list[str]
) -> None:
    result = runner.invoke(app, ["run", "--runtime", "ray", *option])
    assert result.exit_code == 2
    assert f"{option[0]} only apply to the local runtime" in flat(result.output)


def test_run_address_needs_the_ray_runtime(runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "--address", "auto"])
    assert result.exit_code == 2
    assert "--address needs --runtime ray" in flat(result.output)


def test_bench_on_ray_without_the_extra_names_it(tmp_path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from qnrecovery.cli import app\n"
        f"app(['bench', 'baselines', '--quick', '--runtime', 'ray', '--out', "
        f"{str(tmp_path)!r}])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    output = flat(done.stdout + done.stderr)
    assert 'pip install "qnrecovery[ray]"' in output
    assert 'pip install ".[ray]"' in output


def test_run_on_ray_without_the_extra_names_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from qnrecovery.cli import app\n"
        "app(['run', '--runtime', 'ray', '--quiet'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "qnrecovery[ray]" in flat(done.stdout + done.stderr)
