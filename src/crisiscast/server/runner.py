"""Dispatches started by the server, run in the background, and drained on shutdown.

``DispatchRunner.start`` builds the channels for a message, asks the ``Dispatcher`` to plan
(the plan and the approval are persisted in one append before anything is sent) and then
runs the dispatch as a background task, so the webhook is answered as soon as the plan is
durable. A failing dispatch is logged and counted; it never takes the server down.

Shutdown (``drain``): no new dispatch starts; running ones get ``grace_s`` to finish; what
is still running then is cancelled. Cancelled deliveries stay ``pending`` or ``in_doubt``
in the audit store, so ``crisiscast`` can resume them (in-doubt ones are reconciled first).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypedDict

import structlog

from crisiscast.channels.base import Channel
from crisiscast.channels.registry import ChannelsFactory, build_channels
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import DeliveryState, DispatchReport
from crisiscast.jsontypes import JsonMapping
from crisiscast.message import CrisisMessage
from crisiscast.server.metrics import ServerMetrics
from crisiscast.server.progress_hub import ProgressHub

__all__ = ["DispatchRunner", "DispatcherLike", "ShuttingDown"]

log = structlog.get_logger(__name__)


class DispatcherLike(Protocol):
    """What the server needs of ``crisiscast.dispatch.Dispatcher``."""

    async def plan(
        self,
        message: CrisisMessage,
        channels: Sequence[Channel],
        *,
        approval: JsonMapping,
        dispatch_id: str | None = None,
        skipped: Sequence[tuple[str, str]] = (),
        reply_to: Mapping[str, str] | None = None,
        only_targets: Mapping[str, frozenset[str]] | None = None,
        stream: bool = False,
    ) -> Any: ...

    async def run(
        self, plan: Any, *, progress: Callable[[str, str, DeliveryState], None] | None = None
    ) -> DispatchReport: ...


class _FollowUp(TypedDict, total=False):
    """The follow-up arguments passed to ``DispatcherLike.plan`` only when a send has them."""

    reply_to: Mapping[str, str] | None
    only_targets: Mapping[str, frozenset[str]] | None


class ShuttingDown(Exception):
    """The server is shutting down and starts no new dispatch."""


class DispatchRunner:
    """Plans dispatches in the request, runs them in background tasks, drains on shutdown."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        dispatcher: DispatcherLike,
        metrics: ServerMetrics,
        *,
        channels_factory: ChannelsFactory = build_channels,
        on_progress: Callable[[str, str, DeliveryState], None] | None = None,
        on_planned: Callable[[str], None] | None = None,
    ) -> None:
        """``on_planned`` set (``serve --worker-id``): ``start`` only plans and calls it with the
        dispatch id; the lease workers then share the sending (``crisiscast.dispatch.workers``)."""
        self._settings = settings
        self._on_planned = on_planned
        self._secrets = secrets
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._factory = channels_factory
        self._on_progress = on_progress
        self._tasks: dict[str, asyncio.Task[DispatchReport | None]] = {}
        self.accepting = True
        self.changes = ProgressHub()  # wakes GET …/progress long-polls (crisiscast.server.progress)

    @property
    def running(self) -> list[str]:
        """The dispatch ids running in the background now."""
        return list(self._tasks)

    async def start(
        self,
        message: CrisisMessage,
        *,
        dispatch_id: str,
        approval: JsonMapping,
        source: str,
        skipped: Sequence[tuple[str, str]] = (),
        reply_to: Mapping[str, str] | None = None,
        only_targets: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Plan (persisted before return: a plan of several chunks, its first chunk, the rest
        written while the run sends what is durable) and start running in the background.

        ``skipped``, ``reply_to`` and ``only_targets`` plan a follow-up (an Update or an
        all-clear) to the original's reach. Raises ``ShuttingDown`` during shutdown, and
        whatever ``plan`` raises (a ``PolicyError`` when a channel refuses the message,
        ``StoreError``).
        """
        if not self.accepting:
            raise ShuttingDown("the server is shutting down")
        channels, built_skipped = self._factory(self._settings, self._secrets, message)
        follow_up: _FollowUp = {}
        if reply_to is not None or only_targets is not None:
            follow_up = {"reply_to": reply_to, "only_targets": only_targets}
        try:
            plan = await self._dispatcher.plan(
                message,
                channels,
                approval=approval,
                dispatch_id=dispatch_id,
                skipped=[*skipped, *built_skipped],
                stream=self._on_planned is None,  # run here: send each chunk once it is durable
                **follow_up,
            )
        except BaseException:
            await _close(channels)
            raise
        self._metrics.dispatches.labels(source=source, outcome="started").inc()
        if self._on_planned is not None:  # the workers claim its deliveries with leases
            await _close(channels)
            self._on_planned(dispatch_id)
            return
        task = asyncio.create_task(
            self._run(dispatch_id, plan, channels, source), name=f"dispatch-{dispatch_id}"
        )
        self._tasks[dispatch_id] = task
        self._metrics.inflight.set(len(self._tasks))
        task.add_done_callback(lambda _t: self._forget(dispatch_id))

    def _forget(self, dispatch_id: str) -> None:
        self._tasks.pop(dispatch_id, None)
        self._metrics.inflight.set(len(self._tasks))
        self.changes.ended(dispatch_id)

    async def wait(self, dispatch_id: str) -> DispatchReport | None:
        """Wait for a background dispatch (None when it is not running here or failed)."""
        task = self._tasks.get(dispatch_id)
        return None if task is None else await asyncio.shield(task)

    async def _run(
        self, dispatch_id: str, plan: Any, channels: Sequence[Channel], source: str
    ) -> DispatchReport | None:
        bound = log.bind(dispatch_id=dispatch_id)
        on_progress, changed = self._on_progress, self.changes.changed

        def progress(channel: str, key: str, state: DeliveryState) -> None:
            if on_progress is not None:
                on_progress(channel, key, state)
            changed(dispatch_id)

        try:
            report = await self._dispatcher.run(plan, progress=progress)
        except asyncio.CancelledError:
            bound.warning("dispatch_interrupted", note="left resumable in the audit store")
            raise
        except Exception as exc:  # a broken dispatch must never take the server down
            bound.error("dispatch_crashed", error=type(exc).__name__, reason=str(exc)[:200])
            self._metrics.dispatches.labels(source=source, outcome="error").inc()
            return None
        finally:
            await _close(channels)
        self._metrics.record_report(report, source=source)
        bound.info("dispatch_finished", ok=report.ok)
        return report

    async def drain(self, grace_s: float) -> list[str]:
        """Stop accepting; wait up to ``grace_s`` for running dispatches; cancel the rest.

        Returns the ids that were cancelled (resumable from the audit store).
        """
        self.accepting = False
        tasks = list(self._tasks.values())
        if not tasks:
            return []
        _done, pending = await asyncio.wait(tasks, timeout=grace_s)
        cancelled = [t.get_name().removeprefix("dispatch-") for t in pending]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if cancelled:
            log.warning("dispatches_left_resumable", dispatch_ids=cancelled)
        return cancelled


async def _close(channels: Sequence[Channel]) -> None:
    for channel in channels:
        with contextlib.suppress(Exception):
            await channel.aclose()
