"""The replica actor's write rules, run as a plain object on an event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from qnrecovery.ray_runtime.store import KVStore


class _SilentStandby:
    """A hot standby whose node is gone: `replicate` never answers."""

    class _Method:
        def remote(self, *args: Any) -> Any:
            return asyncio.sleep(3600)

    replicate = _Method()


class _Standby:
    """A hot standby that applies every record, as a stand-in for an actor."""

    def __init__(self) -> None:
        self.store = KVStore("sb", "hot", epoch=1)
        self.replicate = self._Call(self.store.replicate)
        self.install = self._Call(self.store.install)

    class _Call:
        def __init__(self, method: Any) -> None:
            self.method = method

        def remote(self, *args: Any) -> Any:
            return self.method(*args)


async def _primary() -> KVStore:
    primary = KVStore("p", "primary", epoch=1, hot_timeout=0.2)
    await primary.ping(time.time() + 60.0)
    return primary


def test_a_write_missing_a_detached_hot_standby_does_not_block_later_writes() -> None:
    """The controller drops a silent hot standby and detaches it while a write
    still waits for it. The standby can no longer be promoted, so neither that
    write nor the next is refused for its sake."""

    async def go() -> tuple[dict[str, Any], dict[str, Any], KVStore]:
        primary = await _primary()
        primary.hots["gone"] = _SilentStandby()
        pending = asyncio.create_task(primary.put("k", 1, 1))
        await asyncio.sleep(0.05)
        await primary.detach("gone")
        first = await pending
        second = await primary.put("k", 2, 1)
        return first, second, primary

    first, second, primary = asyncio.run(go())

    assert first["ok"] is True
    assert second["ok"] is True, second
    assert primary.failing == set()


def test_a_silent_attached_hot_standby_blocks_writes_until_detached() -> None:
    async def go() -> list[dict[str, Any]]:
        primary = await _primary()
        assert (await primary.attach("hot", _Standby(), "sb"))["ok"]
        primary.hots["sb"] = _SilentStandby()
        replies = [await primary.put("k", 1, 1), await primary.put("k", 2, 1)]
        await primary.detach("sb")
        replies.append(await primary.put("k", 3, 1))
        return replies

    missed, blocked, after_detach = asyncio.run(go())

    assert missed["ok"] is False and missed["error"] == "unavailable"
    assert blocked["ok"] is False and "did not answer" in blocked["detail"]
    assert after_detach["ok"] is True
