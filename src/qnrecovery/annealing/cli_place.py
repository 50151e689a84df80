"""What ``qnrecovery place PROBLEM_FILE`` does: solve, then print the answer.

Kept out of :mod:`qnrecovery.cli` so that the command line starts without
importing the placers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qnrecovery.annealing.model import constraint_slack
from qnrecovery.annealing.problem_file import load_placement_problem
from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PlacementProblem, PlacementSolution

__all__ = ["parse_options", "run_place"]


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; values are read as YAML scalars (``5``, ``true``).

    Raises
    ------
    ConfigError
        If a pair has no ``=`` or an empty key.
    """
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--option expects KEY=VALUE (e.g. num_reads=50); got {pair!r}."
            )
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            options[key.strip()] = value
    return options


def run_place(
    problem_file: Path,
    placer: str,
    options: list[str],
    seed: int | None,
    json_path: Path | None,
    out: Console,
) -> bool:
    """Solve ``problem_file`` with ``placer`` and print the result on ``out``.

    Returns
    -------
    bool
        Whether the placement is feasible.

    Raises
    ------
    ConfigError
        If the file, the placer's name or one of its options is invalid.
    """
    from qnrecovery.registry import backend

    problem = load_placement_problem(problem_file)
    chosen = parse_options(options)
    solver = backend("placer", placer, **chosen)
    if seed is not None and "random_state" in getattr(solver, "get_params", dict)():
        solver.set_params(random_state=seed)
    if json_path is not None and not json_path.resolve().parent.is_dir():
        raise ConfigError(
            f"Cannot write {json_path}: folder {json_path.resolve().parent} "
            "does not exist."
        )
    solution = solver.place(problem)

    _print(problem, solution, placer, out)
    if json_path is not None:
        json_path.write_text(
            json.dumps(_as_json(problem, solution, placer), indent=2, default=str)
            + "\n",
            encoding="utf-8",
        )
        out.print(f"solution: {json_path}")
    return solution.feasible


def _print(
    problem: PlacementProblem, solution: PlacementSolution, placer: str, out: Console
) -> None:
    info = solution.info
    if not solution.feasible:
        reason = escape(str(info.get("reason")))
        out.print(f"[red]no feasible placement[/red] ({placer}): {reason}")
        for line in solution.violations:
            out.print(f"  - {escape(line)}", highlight=False)
        return

    table = Table(title=f"Standby placement ({placer})")
    for column in ("standby", "tier", "primary", "host", "domain", "cost"):
        table.add_column(column, justify="right" if column == "cost" else "left")
    for slot in problem.slots():
        host = solution.assignment[slot.key]
        service = problem.service(slot.service)
        table.add_row(
            escape(slot.key),
            service.tier,
            service.primary_host,
            host,
            problem.host(host).domain,
            f"{problem.slot_cost(slot, host):.3f}",
        )
    out.print(table)
    out.print(f"objective: {solution.objective:.4f}")

    slack = Table(title="Constraint slack (limit - used; 0 means binding)")
    for column in ("constraint", "used", "limit", "slack"):
        slack.add_column(column, justify="left" if column == "constraint" else "right")
    for row in constraint_slack(problem, solution.assignment):
        slack.add_row(
            escape(row.name), f"{row.used:g}", f"{row.limit:g}", f"{row.slack:g}"
        )
    out.print(slack)
    out.print(escape(_summary(info)), highlight=False)


def _summary(info: dict[str, Any]) -> str:
    parts = [f"wall time {info.get('wall_time_s', math.nan):.3f} s"]
    for key in ("status", "reads", "feasible_share", "escalations", "moves"):
        if key in info:
            value = info[key]
            parts.append(
                f"{key.replace('_', ' ')} {value:.2f}"
                if isinstance(value, float)
                else f"{key.replace('_', ' ')} {value}"
            )
    return "; ".join(parts)


def _as_json(
    problem: PlacementProblem, solution: PlacementSolution, placer: str
) -> dict[str, Any]:
    return {
        "placer": placer,
        "feasible": solution.feasible,
        "objective": solution.objective if solution.feasible else None,
        "assignment": solution.assignment,
        "violations": solution.violations,
        "slack": [vars(row) for row in constraint_slack(problem, solution.assignment)],
        "info": {k: v for k, v in solution.info.items() if k != "partial_assignment"},
    }
