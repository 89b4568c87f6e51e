"""A cancellation signal that wakes every wait of one dispatch at once.

A dispatch's deliveries spend most of their life waiting: for a concurrency slot, for a
rate-limit slot, in a retry back-off, for the previous part of a thread. ``cancel`` must stop
all of them within a second, without cancelling asyncio tasks (a task in the middle of a
provider request must finish and record its outcome). Every wait therefore goes through a
``CancelToken``: ``sleep`` and ``wait`` return False as soon as the token is cancelled.

Waits are plain futures and ``loop.call_later`` handles: no polling, no extra tasks.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CancelToken"]


def _resolve(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


class CancelToken:
    """Cancelled once, for good; wakes every registered waiter with ``False``."""

    __slots__ = ("_waiters", "cancelled", "reason")

    def __init__(self) -> None:
        self.cancelled = False
        self.reason = ""
        self._waiters: set[asyncio.Future[bool]] = set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel (idempotent): every current and future wait returns False at once."""
        if self.cancelled:
            return
        self.cancelled = True
        self.reason = reason
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            _resolve(fut, False)

    def watch(self, fut: asyncio.Future[bool]) -> None:
        """Resolve ``fut`` with False when the token is cancelled (at once if it already is)."""
        if self.cancelled:
            _resolve(fut, False)
        else:
            self._waiters.add(fut)

    def unwatch(self, fut: asyncio.Future[bool]) -> None:
        self._waiters.discard(fut)

    async def sleep(self, delay_s: float) -> bool:
        """Sleep ``delay_s``; True when the time passed, False as soon as the token is cancelled."""
        if self.cancelled:
            return False
        if delay_s <= 0:
            await asyncio.sleep(0)
            return not self.cancelled
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        handle = loop.call_later(delay_s, _resolve, fut, True)
        self._waiters.add(fut)
        try:
            return await fut
        finally:
            handle.cancel()
            self._waiters.discard(fut)

    async def wait(self, other: asyncio.Future[Any]) -> bool:
        """Wait until ``other`` is done; True when it is, False as soon as the token is cancelled."""
        if other.done():
            return True
        if self.cancelled:
            return False
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def _done(_: asyncio.Future[Any]) -> None:
            _resolve(fut, True)

        other.add_done_callback(_done)
        self._waiters.add(fut)
        try:
            return await fut
        finally:
            other.remove_done_callback(_done)
            self._waiters.discard(fut)
