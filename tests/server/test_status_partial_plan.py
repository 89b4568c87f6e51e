"""The status of a dispatch whose plan is still being written (chunks): never "delivered" while
deliveries are still to be planned, and each channel's ``planned`` is the whole plan's count."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import Delivery
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.server.status_view import dispatch_status, progress_document
from tests.dispatch.helpers import ScriptChannel, message
from tests.dispatch.recording import RecordingStore


class HeldRestStore(RecordingStore):
    """Holds every plan chunk after the first until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if events and all(e.kind is EventKind.DELIVERY_PLANNED for e in events):
            await self.release.wait()
        await super().append(events)


async def test_a_dispatch_whose_first_chunk_is_delivered_is_still_dispatching() -> None:
    store = HeldRestStore()
    await store.open()
    try:
        first_chunk_sent = asyncio.Event()
        sent: list[str] = []

        def on_send(d: Delivery) -> str:
            sent.append(d.key)
            if len(sent) == 3:
                first_chunk_sent.set()
            return "ok"

        sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(8)), on_send=on_send)
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=5, plan_first_chunk_size=3)
        run = asyncio.create_task(dispatcher.dispatch(message(), [sms], approval={"approver": "test"}))
        await asyncio.wait_for(first_chunk_sent.wait(), 10)
        await store.wait_until(lambda: store.kinds().count("attempt_succeeded") == 3)
        dispatch_id = next(e.dispatch_id for e in store.log if e.kind is EventKind.DISPATCH_PLANNED)
        progress = await progress_document(store, dispatch_id)
        assert progress is not None and progress["state"] == "dispatching"
        live: Any = progress["channels"]
        assert live["sms"]["planned"] == 8  # the unwritten chunk counted
        document = await dispatch_status(store, dispatch_id)
        assert document is not None and document["state"] == "dispatching"
        sms_counts: Any = document["channels"]
        assert sms_counts["sms"]["planned"] == 8
        assert sms_counts["sms"]["delivered"] == 3
        store.release.set()
        report = await asyncio.wait_for(run, 10)
        assert report.ok
        progress = await progress_document(store, dispatch_id)
        assert progress is not None and progress["state"] == "delivered"
    finally:
        await store.close()
