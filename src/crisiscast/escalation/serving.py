"""The escalation timer beside ``crisiscast serve`` (``--escalation-tick-s``).

Single process (no ``--worker-id``): the timer starts once the start-up resume is over (so the
resume never sends a step the timer is sending) and sends each step itself. With
``--worker-id``: the timer only plans a step, then wakes the lease worker; whichever worker
claims the step's deliveries sends them. The owner of the store claims is the worker id (or
``serve-<host>``), stable across restarts, so a restarted ``serve`` takes its own step claims
back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import TYPE_CHECKING

from crisiscast.escalation.loop import EscalationLoop

if TYPE_CHECKING:
    from crisiscast.config import Secrets, Settings
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.workers import ServeWork

__all__ = ["EscalationTimer"]


class EscalationTimer:
    """Start with ``start``; ``stop`` lets a running step finish within ``grace_s``."""

    def __init__(
        self, settings: Settings, secrets: Secrets, dispatcher: Dispatcher, work: ServeWork, *, tick_s: float
    ) -> None:
        worker = work.worker
        self.tick_s = tick_s
        self.loop = EscalationLoop(
            settings,
            secrets,
            dispatcher,
            owner=worker.worker_id if worker is not None else f"serve-{socket.gethostname()}",
            build=work.build,
            send=worker is None,
            on_planned=worker.wake if worker is not None else None,
        )
        self.work = work
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> None:
        """Before the start-up resume: cancel the unsent steps of escalations stopped meanwhile
        (an all-clear while this process was down), so the resume does not send them."""
        if self.tick_s > 0:
            await self.loop.sweep_stopped()

    def start(self) -> None:
        if self.tick_s > 0:
            self._task = asyncio.create_task(
                self.loop.run(self._stop, tick_s=self.tick_s, after=self.work.started())
            )

    async def stop(self, grace_s: float) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        await asyncio.wait({task}, timeout=grace_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
