"""An asyncio event loop in a thread of its own.

The controller, the heartbeats and the client load run on this loop while the
main thread injects node faults: Ray adds nodes only from the main thread, and
a fault injected from the loop itself would stall the heartbeats it tests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """Run coroutines on a loop in a daemon thread; use as a context manager."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="qnr-ray-loop", daemon=True
        )

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 600.0) -> T:
        """Run `coro` on the loop and wait up to `timeout` s for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
