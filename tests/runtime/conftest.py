"""Fixtures for the runtime tests: every started worker is killed and reaped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest

from qnrecovery.runtime.supervisor import Supervisor

Scenario = Callable[[Supervisor], Awaitable[None]]


@pytest.fixture
def run_with_supervisor() -> Iterator[Callable[[Scenario], None]]:
    """Run ``scenario(sup)`` in a fresh event loop, then stop and reap all workers.

    ``stop_all`` runs inside the loop even when the scenario fails; the
    fixture's teardown kills every process group and reaps it once more, in
    case the loop itself was torn down (e.g. by a time-out).
    """
    supervisors: list[Supervisor] = []

    def run(scenario: Scenario) -> None:
        sup = Supervisor()
        supervisors.append(sup)

        async def main() -> None:
            try:
                await scenario(sup)
            finally:
                await sup.stop_all(grace=1.0)

        asyncio.run(main())

    yield run
    for sup in supervisors:
        sup.kill_all_now()
