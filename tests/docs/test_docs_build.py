"""The documentation site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_config_names_every_page() -> None:
    """Every Markdown page is in the navigation, and every nav entry exists."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml uses a python/name tag for the mermaid fence; read it as text.
    Loader.add_multi_constructor(
        "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix
    )
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)

    def pages(entry: object) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, list):
            return [p for item in entry for p in pages(item)]
        if isinstance(entry, dict):
            return [p for value in entry.values() for p in pages(value)]
        return []

    in_nav = set(pages(config["nav"]))
    docs = ROOT / "docs"
    on_disk = {
        p.relative_to(docs).as_posix()
        for p in docs.rglob("*.md")
        if "hooks" not in p.parts
    }
    assert in_nav == on_disk
    assert config["strict"] is True
    assert config["site_dir"] == "site"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    placers = (tmp_path / "kinds" / "placers.html").read_text()
    # The hook lists the registered backends with their options.
    assert "qnrecovery.classical.placement.MILPPlacer" in placers
    assert "time_limit_s" in placers
    api = (tmp_path / "api" / "core.html").read_text()
    assert "qnrecovery.registry.backend" in api
    examples = (tmp_path / "examples.html").read_text()
    # The scripts are embedded, not linked.
    assert "balanced_split" in examples and "run_drill" in examples
