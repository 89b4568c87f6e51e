"""Wakes the requests following a dispatch (``crisiscast.server.progress``) when it changes.

The server's ``DispatchRunner`` owns one hub: each delivery that settles in a dispatch running in
this process calls ``changed``, and the end of that run calls ``ended``. A long-poll waits on
``wait`` (any change, or only the end). The hub also remembers what counting a running dispatch
cost last time (``record_cost``), so that followers of a very large dispatch are answered less
often (``pause_s``, ``crisiscast.read_pacing``): following costs about a tenth of the process at most.
"""

from __future__ import annotations

import asyncio

from crisiscast.read_pacing import next_read_in_s

__all__ = ["COALESCE_S", "ProgressHub"]

COALESCE_S = 0.2  # a follower of a running dispatch is answered at most this often


class ProgressHub:
    """Change and end notifications per dispatch id, and the cost of counting each."""

    def __init__(self) -> None:
        self._changes: dict[str, asyncio.Event] = {}
        self._ends: dict[str, asyncio.Event] = {}
        self._cost_s: dict[str, float] = {}
        self._closed = False

    def changed(self, dispatch_id: str) -> None:
        """Something about ``dispatch_id`` changed (a delivery settled)."""
        event = self._changes.pop(dispatch_id, None)
        if event is not None:
            event.set()

    def ended(self, dispatch_id: str) -> None:
        """The run of ``dispatch_id`` in this process is over (a change too)."""
        self.changed(dispatch_id)
        self._cost_s.pop(dispatch_id, None)
        event = self._ends.pop(dispatch_id, None)
        if event is not None:
            event.set()

    async def wait(self, dispatch_id: str, timeout_s: float, *, end_only: bool = False) -> bool:
        """Wait up to ``timeout_s`` for a change of ``dispatch_id`` (``end_only``: for the end of
        its run); True when one came."""
        if self._closed or timeout_s <= 0:
            return False
        events = self._ends if end_only else self._changes
        event = events.get(dispatch_id)
        if event is None:
            event = events[dispatch_id] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        return not self._closed

    def waited_on(self, dispatch_id: str) -> bool:
        """Whether a request is waiting on ``dispatch_id`` now (for a change or for its end)."""
        return dispatch_id in self._changes or dispatch_id in self._ends

    def record_cost(self, dispatch_id: str, spent_s: float) -> None:
        """Counting ``dispatch_id`` (running here) took ``spent_s``."""
        self._cost_s[dispatch_id] = spent_s

    def pause_s(self, dispatch_id: str) -> float:
        """How long a follower of ``dispatch_id`` waits before it is counted again."""
        return next_read_in_s(COALESCE_S, self._cost_s.get(dispatch_id, 0.0))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release every waiter (the server is shutting down) and keep no more."""
        self._closed = True
        events = [*self._changes.values(), *self._ends.values()]
        self._changes, self._ends = {}, {}
        for event in events:
            event.set()
