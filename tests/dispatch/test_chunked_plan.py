"""Plans written in chunks: each chunk durable before its sends, sending before the plan is
complete, ``dispatch_plan_completed`` recorded, and a crash between chunks resumed with no recipient
lost or sent twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.paging import count_states, iter_deliveries
from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher, chunks, unfinished_dispatches
from crisiscast.dispatch.chunks import chunk_slices
from crisiscast.dispatch.limiter import LimiterRegistry
from tests.audit.conftest import Backend, backend  # noqa: F401  (the store fixture, both stores)
from tests.dispatch.crash_child import FileChannel, run_until_killed, targets
from tests.dispatch.helpers import ScriptChannel, message
from tests.dispatch.recording import RecordingStore

ROOT = Path(__file__).resolve().parents[2]
APPROVAL = {"approver": "test"}


def test_chunk_slices_put_small_channels_first_and_cover_every_delivery() -> None:
    chunks = chunk_slices({"sms": 25, "twitter": 3, "banner": 1}, 10)
    assert chunks == [
        [("banner", 0, 1), ("twitter", 0, 3), ("sms", 0, 6)],
        [("sms", 6, 16)],
        [("sms", 16, 25)],
    ]
    assert chunk_slices({}, 10) == [[]]
    assert chunk_slices({"sms": 10}, 10) == [[("sms", 0, 10)]]


def test_a_smaller_first_chunk_starts_the_plan_and_the_rest_keep_their_size() -> None:
    chunks = chunk_slices({"sms": 25, "twitter": 3, "banner": 1}, 10, 5)
    assert chunks == [
        [("banner", 0, 1), ("twitter", 0, 3), ("sms", 0, 1)],
        [("sms", 1, 11)],
        [("sms", 11, 21)],
        [("sms", 21, 25)],
    ]
    assert chunk_slices({"sms": 25}, 10, 50) == chunk_slices({"sms": 25}, 10)  # never larger
    assert chunk_slices({"sms": 4}, 10, 5) == [[("sms", 0, 4)]]  # fits the first: one chunk


class BatchStore(RecordingStore):
    """Records the kinds of every append (one transaction each)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def append(self, events: Sequence[AuditEvent]) -> None:
        self.batches.append([e.kind.value for e in events])
        await super().append(events)


async def test_with_a_small_first_chunk_every_send_still_follows_its_chunk() -> None:
    """First chunk of 3, the rest of 10: the first transaction holds the dispatch and exactly 3
    deliveries, and no delivery is sent before the chunk holding it is durable."""
    store = BatchStore()
    await store.open()
    planned_at_send: dict[str, bool] = {}

    def check(d: Delivery) -> str:
        planned_at_send[d.key] = d.key in _planned_keys(store)
        return "ok"

    sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(24)), on_send=check)
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10, plan_first_chunk_size=3)
    report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
    assert report.ok and report.channels["sms"].delivered == 24
    assert len(planned_at_send) == 24 and all(planned_at_send.values())
    first = next(batch for batch in store.batches if "dispatch_planned" in batch)
    assert first.count("delivery_planned") == 3
    chunks = [batch.count("delivery_planned") for batch in store.batches if "delivery_planned" in batch]
    assert chunks == [3, 10, 10, 1]
    assert store.kinds().count("dispatch_plan_completed") == 1
    await store.close()


def _planned_keys(store: RecordingStore) -> set[str]:
    return {e.delivery_key for e in store.events_of(EventKind.DELIVERY_PLANNED) if e.delivery_key}


async def test_every_send_follows_the_commit_of_its_own_chunk(store: RecordingStore) -> None:
    """35 SMS and a 2-part thread, chunks of 10: every delivery is durably planned when it is
    sent, the plan is appended in chunks of at most 10 deliveries, and dispatch_plan_completed follows
    the last one."""
    planned_at_send: dict[str, bool] = {}

    def check(d: Delivery) -> str:
        planned_at_send[d.key] = d.key in _planned_keys(store)
        return "ok"

    sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(35)), on_send=check)
    thread = ScriptChannel(channel_name="twitter", targets=("main",), parts=2, on_send=check)
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
    report = await dispatcher.dispatch(message(), [sms, thread], approval=APPROVAL)

    assert report.ok and report.channels["sms"].delivered == 35
    assert len(planned_at_send) == 37 and all(planned_at_send.values())
    kinds = store.kinds()
    assert kinds.count("delivery_planned") == 37
    assert kinds.count("dispatch_plan_completed") == 1
    last_planned = max(i for i, k in enumerate(kinds) if k == "delivery_planned")
    assert kinds.index("dispatch_plan_completed") > last_planned
    assert kinds.index("dispatch_finished") > kinds.index("dispatch_plan_completed")
    # the thread (the smaller channel) is in the first chunk, with the dispatch itself
    first = store.log[: kinds.index("delivery_planned") + 10]
    assert {e.data.get("channel") for e in first if e.kind is EventKind.DELIVERY_PLANNED} >= {"twitter"}
    record = await store.dispatch(report.dispatch_id)
    assert record is not None and record.summary["plan_complete"] is True
    assert (await store.verify()).ok


class HeldChunksStore(RecordingStore):
    """Holds every plan chunk after the first until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def append(self, events: Sequence[AuditEvent]) -> None:
        later_chunk = events and all(e.kind is EventKind.DELIVERY_PLANNED for e in events)
        if later_chunk:
            await self.release.wait()
        await super().append(events)


async def test_sending_starts_while_later_chunks_are_still_being_written() -> None:
    """The later chunks are held until the whole first chunk (10 SMS) is sent: the dispatch
    completes only if sending starts before the plan is complete (otherwise it would wait for
    ever), and nothing of the held chunks is sent while they are held."""
    store = HeldChunksStore()
    await store.open()
    try:
        sends: list[tuple[bool, bool]] = []  # (planned when sent, plan complete when sent)

        def on_send(d: Delivery) -> str:
            sends.append((d.key in _planned_keys(store), "dispatch_plan_completed" in store.kinds()))
            if len(sends) == 10:
                store.release.set()
            return "ok"

        sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(25)), on_send=on_send)
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
        report = await asyncio.wait_for(dispatcher.dispatch(message(), [sms], approval=APPROVAL), 30)
        assert report.ok and report.channels["sms"].delivered == 25
        assert all(planned for planned, _ in sends)
        assert not any(complete for _, complete in sends[:10])
        assert store.kinds().count("dispatch_plan_completed") == 1
    finally:
        await store.close()


async def test_a_plan_that_fits_one_chunk_is_written_as_before(store: RecordingStore) -> None:
    """One chunk: one transaction, no dispatch_plan_completed, no plan_complete in the summary."""
    sms = ScriptChannel(channel_name="sms", targets=("a", "b", "c"))
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
    report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
    assert report.ok
    assert "dispatch_plan_completed" not in store.kinds()
    record = await store.dispatch(report.dispatch_id)
    assert record is not None and "plan_complete" not in record.summary


class FailingChunkStore(RecordingStore):
    """Refuses the third plan chunk (a full disk, a lost database)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks = 0

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if events and all(e.kind is EventKind.DELIVERY_PLANNED for e in events):
            self.chunks += 1
            if self.chunks == 2:  # the first chunk went with the dispatch; this is the third
                from crisiscast.errors import StoreError

                raise StoreError("the disk is full")
        await super().append(events)


async def test_deliveries_of_a_chunk_that_could_not_be_written_are_never_sent() -> None:
    store = FailingChunkStore()
    await store.open()
    try:
        sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(25)))
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
        report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
        sms_report = report.channels["sms"]
        assert sms_report.delivered == 20 and not report.ok
        assert "could not be recorded in full" in sms_report.note
        assert {c.target for c in sms.calls} == {f"t{i}" for i in range(20)}
        record = await store.dispatch(report.dispatch_id)
        assert record is not None and record.summary["plan_complete"] is False
    finally:
        await store.close()


async def test_paged_reads_see_every_delivery_once(store: RecordingStore) -> None:
    sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(23)))
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
    report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
    keys = [r.delivery.key async for r in iter_deliveries(store, report.dispatch_id, page_size=5)]
    assert keys == [r.delivery.key for r in await store.deliveries(report.dispatch_id)]
    assert len(set(keys)) == 23
    assert await count_states(store, report.dispatch_id, page_size=4) == {
        "sms": {DeliveryState.DELIVERED: 23}
    }


@pytest.mark.parametrize("failpoints", ["between_plan_chunks:1", "between_plan_chunks:3"])
async def test_killed_between_plan_chunks_then_resumed_sends_everyone_exactly_once(
    tmp_path: Path,
    backend: Backend,  # noqa: F811
    failpoints: str,
) -> None:
    """A child dispatching to 45 targets in chunks of 10 is SIGKILLed between two chunks (some
    already sent, others never planned); resume completes the plan and sends the rest: every
    target accepted exactly once, dispatch_plan_completed recorded, the chain verifies."""
    n, log = 45, tmp_path / "provider.log"
    await run_until_killed(backend.url, log, n, failpoints, chunk_size=10)

    store = backend.make_store()
    await store.open()
    try:
        unfinished = await unfinished_dispatches(store)
        assert len(unfinished) == 1
        dispatch_id = unfinished[0].dispatch_id
        assert unfinished[0].summary["plan_complete"] is False
        assert len(await store.deliveries(dispatch_id)) < n  # the crash left recipients unplanned
        channel = FileChannel(log_path=str(log), targets=targets(n))
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
        report = await dispatcher.resume(dispatch_id, [channel])
        assert report.ok and report.channels["sms"].delivered == n

        sent = Counter(line.split(" ")[0] for line in log.read_text().splitlines())
        assert len(sent) == n and set(sent.values()) == {1}
        records = await store.deliveries(dispatch_id)
        assert len(records) == n and {r.state for r in records} == {DeliveryState.DELIVERED}
        record = await store.dispatch(dispatch_id)
        assert record is not None and record.summary["plan_complete"] is True
        assert await unfinished_dispatches(store) == []
        assert (await store.verify()).ok
    finally:
        await store.close()


async def test_a_partial_plan_whose_recipients_changed_is_not_guessed(tmp_path: Path) -> None:
    """Resumed with other contacts than planned: the stored deliveries are sent, the missing
    ones are not invented, the report says why and the plan stays incomplete."""
    db, log = tmp_path / "audit.db", tmp_path / "provider.log"
    await run_until_killed(str(db), log, 25, "between_plan_chunks:1", chunk_size=10)
    from crisiscast.audit.open import open_store

    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        (record,) = await unfinished_dispatches(store)
        channel = FileChannel(log_path=str(log), targets=targets(30))  # five more than planned
        report = await Dispatcher(store, limiters=LimiterRegistry()).resume(record.dispatch_id, [channel])
        sms = report.channels["sms"]
        assert sms.delivered == 10 and "recipients changed" in sms.note
        sent = Counter(line.split(" ")[0] for line in log.read_text().splitlines())
        assert len(sent) == 10 and set(sent.values()) == {1}
        again = await store.dispatch(record.dispatch_id)
        assert again is not None and again.summary["plan_complete"] is False
    finally:
        await store.close()


async def test_a_cancel_while_the_plan_is_written_ends_every_planned_delivery(store: RecordingStore) -> None:
    """Cancelled at the first send of a 25-delivery plan in chunks of 10: the plan is still
    completed, and every delivery ends delivered or cancelled (none left pending)."""
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
    cancelled: list[str] = []

    async def cancel_once(d: Delivery) -> None:
        if not cancelled:
            cancelled.append(d.key)
            await dispatcher.cancel(d.dispatch_id, who="test", reason="drill called off")

    one_at_a_time = ChannelLimits(max_concurrency=1)  # 20 workers: some deliveries are never taken
    targets = tuple(f"t{i}" for i in range(25))
    sms = ScriptChannel(channel_name="sms", targets=targets, on_send=cancel_once, limits=one_at_a_time)
    report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
    channel = report.channels["sms"]
    assert channel.cancelled > 0 and channel.delivered + channel.cancelled == 25
    states = await count_states(store, report.dispatch_id)
    assert sum(states["sms"].values()) == 25
    assert set(states["sms"]) <= {DeliveryState.DELIVERED, DeliveryState.CANCELLED}
    assert store.kinds().count("dispatch_plan_completed") == 1
    assert (await store.verify()).ok


async def test_an_expired_message_in_chunks_fails_every_delivery_once(store: RecordingStore) -> None:
    from datetime import UTC, datetime, timedelta

    sent = datetime.now(UTC) - timedelta(seconds=120)
    sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(25)))
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=10)
    report = await dispatcher.dispatch(message(sent=sent, expires_in_s=60), [sms], approval=APPROVAL)
    assert [f.code for f in report.channels["sms"].failed] == ["expired"] * 25
    assert sms.calls == []
    failed = store.events_of(EventKind.DELIVERY_FAILED)
    assert len({e.delivery_key for e in failed}) == len(failed) == 25
    assert await count_states(store, report.dispatch_id) == {"sms": {DeliveryState.FAILED: 25}}
    assert (await store.verify()).ok


async def test_the_first_texts_are_recorded_before_the_second_chunk_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """First chunk of 3: the first attempt_started is committed before the second chunk (whose
    serialising and commit would otherwise hold the first texts back); every send still follows
    its own chunk."""
    monkeypatch.setattr(chunks, "REST_WAITS_FOR_FIRST_SEND_S", 30.0)  # the order, not the bound
    store = BatchStore()
    await store.open()
    try:
        planned_at_send: dict[str, bool] = {}

        def check(d: Delivery) -> str:
            planned_at_send[d.key] = d.key in _planned_keys(store)
            return "ok"

        sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(30)), on_send=check)
        dispatcher = Dispatcher(
            store, limiters=LimiterRegistry(), plan_chunk_size=20, plan_first_chunk_size=3
        )
        report = await asyncio.wait_for(dispatcher.dispatch(message(), [sms], approval=APPROVAL), 30)
        assert report.ok and all(planned_at_send.values()) and len(planned_at_send) == 30
        second_chunk = next(i for i, b in enumerate(store.batches) if b and set(b) == {"delivery_planned"})
        first_attempt = next(i for i, b in enumerate(store.batches) if "attempt_started" in b)
        assert first_attempt < second_chunk
    finally:
        await store.close()


async def test_a_first_chunk_that_sends_nothing_does_not_hold_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An expired message: no attempt is ever recorded, so the later chunks wait only for the
    bound, then are written, and the dispatch ends (every delivery failed 'expired')."""
    monkeypatch.setattr(chunks, "REST_WAITS_FOR_FIRST_SEND_S", 0.2)
    store = RecordingStore()
    await store.open()
    try:
        sent = datetime.now(UTC) - timedelta(hours=2)
        sms = ScriptChannel(channel_name="sms", targets=tuple(f"t{i}" for i in range(12)))
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=5, plan_first_chunk_size=3)
        msg = message(sent=sent, expires_in_s=60)
        report = await asyncio.wait_for(dispatcher.dispatch(msg, [sms], approval=APPROVAL), 30)
        assert [f.code for f in report.channels["sms"].failed] == ["expired"] * 12
        assert store.kinds().count("delivery_planned") == 12
        assert store.kinds().count("dispatch_plan_completed") == 1
    finally:
        await store.close()
