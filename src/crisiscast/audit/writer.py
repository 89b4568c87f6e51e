"""Group commit: one writer task turns many concurrent ``append`` calls into few transactions.

Each ``append`` prepares its events in the caller (canonical JSON, view effects), queues them
with a future, and waits. The writer takes everything queued — up to ``batch_max_events``
events, never splitting one caller's events — commits it in ONE transaction and resolves
every caller's future after the commit. Batching is natural: while a commit (and its fsync)
is in flight, new calls pile up and go together in the next one, so a lone caller pays one
commit and a 100-way fan-out pays one commit per ~100 events. The writer does not linger
on a timer: an idle queue is committed at once, because lingering would only add latency
before every provider request.

Failure modes: when a combined batch fails, each caller's events are retried alone so one
bad call cannot fail the others; the callers whose own commit fails get the exception. A
commit whose outcome is unknown (``CommitOutcomeUnknown``: the connection broke after COMMIT
was sent, so the batch may be saved) is never retried: every caller of it gets the error,
because a retry could record the same events twice.
A caller cancelled while waiting may or may not have its events recorded (as after a crash).
After ``close()`` (or a writer crash) ``append`` raises ``StoreError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from crisiscast.audit.prepare import PreparedEvent
from crisiscast.errors import StoreError

__all__ = ["CommitOutcomeUnknown", "GroupCommitWriter"]

log = structlog.get_logger(__name__)


class CommitOutcomeUnknown(StoreError):
    """The store cannot tell whether a batch was committed (it may have been); never retried."""


CommitBatch = Callable[[Sequence[PreparedEvent]], Awaitable[None]]
_Request = tuple[list[PreparedEvent], "asyncio.Future[None]"]


class GroupCommitWriter:
    """Serialises commits through one task; see the module docstring."""

    def __init__(self, commit: CommitBatch, *, batch_max_events: int = 2000) -> None:
        self._commit = commit
        self._batch_max_events = max(1, batch_max_events)
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="crisiscast-audit-writer")

    async def submit(self, prepared: list[PreparedEvent]) -> None:
        """Queue ``prepared`` and wait until it is committed."""
        if self._closed or self._task is None or self._task.done():
            raise StoreError("The audit store is closed; open it before recording events.")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((prepared, future))
        await future

    async def close(self) -> None:
        """Commit what is queued, then stop the writer; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task

    async def _run(self) -> None:
        queue = self._queue
        stop = False
        carry: _Request | None = None
        try:
            while not stop:
                first = carry if carry is not None else await queue.get()
                carry = None
                if first is None:
                    break
                batch = [first]
                size = len(first[0])
                while size < self._batch_max_events and not queue.empty():
                    item = queue.get_nowait()
                    if item is None:
                        stop = True
                        break
                    if size + len(item[0]) > self._batch_max_events:
                        carry = item
                        break
                    batch.append(item)
                    size += len(item[0])
                await self._commit_requests(batch)
        except BaseException as exc:
            self._fail_pending(exc)
            raise
        finally:
            self._closed = True
            self._fail_pending(StoreError("The audit store was closed before these events were recorded."))

    async def _commit_requests(self, batch: list[_Request]) -> None:
        events = batch[0][0] if len(batch) == 1 else [p for prepared, _ in batch for p in prepared]
        try:
            await self._commit(events)
        except asyncio.CancelledError:
            for _, future in batch:
                _resolve(
                    future, StoreError("The audit store stopped while these events were being recorded.")
                )
            raise
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, CommitOutcomeUnknown):
                for _, future in batch:
                    _resolve(future, exc)
                return
            log.warning("audit_batch_failed_retrying_alone", callers=len(batch), error=type(exc).__name__)
            for request in batch:
                await self._commit_requests([request])
            return
        self.batches += 1
        self.events += len(events)
        for _, future in batch:
            _resolve(future, None)

    def _fail_pending(self, exc: BaseException) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _resolve(item[1], exc if isinstance(exc, Exception) else StoreError(str(exc) or "stopped"))


def _resolve(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
