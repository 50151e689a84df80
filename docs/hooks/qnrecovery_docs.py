"""MkDocs hooks of the qnrecovery site.

Two markers in a page are replaced when the site is built:

``<!-- qnrecovery:backends KIND -->``
    A section per backend of that kind registered in the installed package,
    with its class, summary and options (from the signature and the
    numpydoc ``Parameters`` section), so the backend pages list whatever is
    registered at build time.
``<!-- qnrecovery:bench-results -->``
    The recorded benchmark run under ``benchmarks/results/``: each suite's
    ``table.md`` and its PNG plots, which are copied into the site.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

logger = logging.getLogger("mkdocs.hooks.qnrecovery")

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
#: Where the recorded plots land in the site.
RESULTS_URI = "benchmark-results"

BACKENDS_MARK = re.compile(r"<!--\s*qnrecovery:backends\s+([a-z]+)\s*-->")
RESULTS_MARK = re.compile(r"<!--\s*qnrecovery:bench-results\s*-->")
API_MARK = re.compile(r"<!--\s*qnrecovery:api-backends\s*-->")
#: Modules documented on their own API pages.
CLASSICAL_PREFIX = "qnrecovery.classical."


def on_files(files: Files, config: Any) -> Files:
    """Add the recorded plots to the site's files."""
    for plot in sorted(RESULTS.glob("*/*.png")) + sorted(RESULTS.glob("*/*.svg")):
        uri = f"{RESULTS_URI}/{plot.parent.name}/{plot.name}"
        files.append(File.generated(config, uri, abs_src_path=str(plot)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Fill in the markers of a page."""
    markdown = BACKENDS_MARK.sub(lambda m: backends_markdown(m.group(1)), markdown)
    markdown = API_MARK.sub(lambda _m: api_markdown(), markdown)
    return RESULTS_MARK.sub(lambda _m: results_markdown(page), markdown)


def backends_markdown(kind: str) -> str:
    """One section per registered backend of `kind`."""
    from qnrecovery.registry import entries

    sections = []
    for entry in entries(kind):
        try:
            with warnings.catch_warnings():
                # Third-party deprecations raised while a backend's library
                # is imported are not the reader's concern.
                warnings.simplefilter("ignore", DeprecationWarning)
                cls = entry.load()
        except Exception as error:  # a broken plugin must not break the site
            sections.append(
                f"### `{entry.name}`\n\n`{entry.target}` could not be imported "
                f"when this page was built: {error}\n"
            )
            continue
        sections.append(_backend_section(entry.name, cls))
    if not sections:
        return f"No `{kind}` backend is registered in this build.\n"
    return "\n".join(sections)


def api_markdown() -> str:
    """A mkdocstrings block per module of a registered non-classical backend."""
    from qnrecovery.registry import entries

    modules: dict[str, list[str]] = {}
    for entry in entries():
        target = entry.target if isinstance(entry.target, str) else None
        if target is None or entry.origin != "qnrecovery":
            continue
        module = target.partition(":")[0]
        if not module.startswith(CLASSICAL_PREFIX):
            modules.setdefault(module, []).append(f"{entry.kind}={entry.name}")
    if not modules:
        return "No quantum, annealing or spiking backend is registered in this build.\n"
    blocks = []
    for module, names in sorted(modules.items()):
        blocks.append(
            f"Backends {', '.join(f'`{n}`' for n in names)}:\n\n::: {module}\n"
        )
    return "\n".join(blocks)


def _backend_section(name: str, cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    summary = _plain(doc.split("\n\n")[0].replace("\n", " ").strip())
    described = _parameters(doc)
    lines = [
        f"### `{name}`",
        "",
        f"`{cls.__module__}.{cls.__qualname__}` — {summary}",
        "",
    ]
    options = _options(cls)
    if not options:
        lines.append("No options.")
        return "\n".join(lines) + "\n"
    lines += ["| option | default | meaning |", "|---|---|---|"]
    for option, default in options:
        meaning = described.get(option, "")
        lines.append(f"| `{option}` | {default} | {_cell(meaning)} |")
    return "\n".join(lines) + "\n"


def _options(cls: type) -> list[tuple[str, str]]:
    """Constructor keywords and their defaults, shown as code."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    options = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = (
            "required"
            if parameter.default is parameter.empty
            else f"`{parameter.default!r}`"
        )
        options.append((parameter.name, default))
    return options


def _parameters(doc: str) -> dict[str, str]:
    """Descriptions from a numpydoc ``Parameters`` section, by name."""
    match = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.M | re.S)
    if match is None:
        return {}
    described: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            head, _, kind = line.partition(" : ")
            names = [n.strip() for n in head.split(",")]
            kind = kind.split(", default=")[0].strip()
            for n in names:
                described[n] = f"*{kind}*." if kind else ""
        elif line.strip() and names:
            for n in names:
                described[n] = f"{described[n]} {line.strip()}".strip()
    return described


#: A Sphinx cross-reference role, shown as inline code of its target.
ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`]+)`")


def _plain(text: str) -> str:
    return ROLE.sub(lambda m: f"`{m.group(1)}`", text)


def _cell(text: str) -> str:
    return " ".join(_plain(text).split()).replace("|", "\\|")


def results_markdown(page: Any) -> str:
    """The recorded run: summary, then each suite's table and plots."""
    suites = sorted(p.parent for p in RESULTS.glob("*/table.md"))
    if not suites:
        return (
            "No recorded run is committed yet. Produce one with "
            "`qnrecovery bench --out benchmarks/results` and rebuild the site.\n"
        )
    parts = []
    index = RESULTS / "summary.json"
    if index.is_file():
        summary = json.loads(index.read_text(encoding="utf-8"))
        parts.append(f"Recorded with `{summary.get('command', '?')}`.\n")
        skipped = [s for s in summary.get("suites", []) if s.get("status") != "ok"]
        if skipped:
            parts.append(
                "Suites without results in this run: "
                + "; ".join(f"{s['name']} ({s['status']})" for s in skipped)
                + ".\n"
            )
    for folder in suites:
        parts.append(_suite_markdown(folder, page))
    return "\n".join(parts)


def _suite_markdown(folder: Path, page: Any) -> str:
    text = (folder / "table.md").read_text(encoding="utf-8")
    # The suite's own title becomes a section of this page.
    text = re.sub(r"^# Benchmark: (.+)$", r"## \1", text, count=1, flags=re.M)
    results = folder / "results.json"
    if results.is_file():
        data = json.loads(results.read_text(encoding="utf-8"))
        env = data.get("environment", {})
        text += (
            f"\nMeasured {data.get('measured_at', '?')} in "
            f"{data.get('elapsed_s') or 0:.0f} s, seed {data.get('seed')}, "
            f"{'quick' if data.get('quick') else 'full'} size; Python "
            f"{env.get('python', '?')}, {env.get('cpu_count', '?')} CPUs"
            + (
                f", load average {env['load_average'][0]:.1f} at the end"
                if env.get("load_average")
                else ""
            )
            + ".\n"
        )
    depth = page.file.src_uri.count("/")
    prefix = "../" * depth
    for plot in sorted(folder.glob("*.png")):
        svg = plot.with_suffix(".svg")
        uri = f"{prefix}{RESULTS_URI}/{folder.name}/{plot.name}"
        text += f"\n![{folder.name}: {plot.stem}]({uri})\n"
        if svg.is_file():
            text += f"\n[SVG]({prefix}{RESULTS_URI}/{folder.name}/{svg.name})\n"
    return text
