"""Wakes the requests following a dispatch (``crisiscast.server.progress``) when it changes.

The server's ``DispatchRunner`` owns one hub: each delivery that settles in a dispatch running in
this process, and the end of that run, call ``changed``; a long-poll waits on ``wait``.
"""

from __future__ import annotations

import asyncio

__all__ = ["ProgressHub"]


class ProgressHub:
    """Wakes the requests waiting on a dispatch when something about it changed."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._closed = False

    def changed(self, dispatch_id: str) -> None:
        """Something about ``dispatch_id`` changed (a delivery settled, the run ended)."""
        event = self._events.pop(dispatch_id, None)
        if event is not None:
            event.set()

    async def wait(self, dispatch_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a change of ``dispatch_id``; True when one came."""
        if self._closed:
            return False
        event = self._events.get(dispatch_id)
        if event is None:
            event = self._events[dispatch_id] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        return not self._closed

    def waited_on(self, dispatch_id: str) -> bool:
        """Whether a request is waiting for a change of ``dispatch_id`` now."""
        return dispatch_id in self._events

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release every waiter (the server is shutting down) and keep no more."""
        self._closed = True
        events, self._events = self._events, {}
        for event in events.values():
            event.set()
