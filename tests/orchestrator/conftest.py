"""Fixtures for the orchestrator tests: live engines that always reap processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from qnrecovery.orchestrator.engine import Orchestrator
from qnrecovery.runtime.router import Router
from qnrecovery.runtime.supervisor import Supervisor


@dataclass
class Live:
    """What a live scenario gets: the supervisor, the router and the engine."""

    supervisor: Supervisor
    router: Router
    orchestrator: Orchestrator
    loads: list[Any] = field(default_factory=list)
    """Client loads the scenario started; stopped before the router closes."""
    engines: list[Orchestrator] = field(default_factory=list)
    """More engines the scenario started (a restarted one); closed at the end."""


Scenario = Callable[[Live], Awaitable[None]]


@pytest.fixture
def run_live(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Run ``scenario(live)`` in a fresh event loop with a started router.

    Keyword arguments given to the runner go to the :class:`Orchestrator`
    (they replace the fast heartbeat defaults used here).

    The engine is closed and every worker stopped inside the loop even when
    the scenario fails; teardown kills and reaps every process group once
    more, in case the loop itself was torn down (e.g. by a time-out).
    """
    supervisors: list[Supervisor] = []

    def run(scenario: Scenario, **options: Any) -> None:
        supervisor = Supervisor()
        settings: dict[str, Any] = {"heartbeat_s": 0.05, "heartbeat_misses": 5}
        settings |= options
        supervisors.append(supervisor)

        async def main() -> None:
            router = Router()
            orchestrator = Orchestrator(supervisor, router, tmp_path, **settings)
            live = Live(supervisor, router, orchestrator)
            try:
                await router.start()
                await scenario(live)
            finally:
                for load in live.loads:
                    await load.stop(timeout=1.0)
                for engine in [orchestrator, *live.engines]:
                    await engine.close()
                await router.close()
                await supervisor.stop_all(grace=1.0)

        asyncio.run(main())

    yield run
    for supervisor in supervisors:
        supervisor.kill_all_now()
