"""Which poll a reply answers: the newest polled dispatch that delivered to the sender's number,
found from that number's delivered rows (``AuditStore.delivered_to``), never a whole dispatch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.delivery import Delivery
from crisiscast.message import CrisisMessage, Status
from crisiscast.rollcall.poll import Poll
from crisiscast.rollcall.replies import record_reply
from crisiscast.rollcall.view import build_rollcall

ANA, BEN = "+15550100001", "+15550100002"
POLL = Poll.model_validate(
    {
        "answers": [
            {"code": "1", "label": {"en": "I am safe", "es": "Estoy a salvo"}},
            {"code": "2", "label": {"en": "I need help", "es": "Necesito ayuda"}},
        ],
        "deadline_min": 30,
    }
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    s = SqliteStore(str(tmp_path / "audit.db"))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def _sent(
    store: AuditStore,
    dispatch_id: str,
    deliveries: list[tuple[str, str, int, str]],
    *,
    poll: Poll | None = POLL,
    failed: tuple[str, ...] = (),
    sent: datetime | None = None,
) -> list[Delivery]:
    """A dispatch planned with ``(channel, target, part, language)`` deliveries, each delivered
    except the targets in ``failed``."""
    message = CrisisMessage(
        status=Status.ACTUAL, headline="Fire in Building B", poll=poll, sent=sent or datetime.now(UTC)
    )
    planned = [
        Delivery(dispatch_id, channel, target, part, "Fire in Building B", language=language)
        for channel, target, part, language in deliveries
    ]
    events = [
        AuditEvent(
            EventKind.DISPATCH_PLANNED,
            dispatch_id,
            {"message": message.model_dump(mode="json"), "channels": ["sms"], "approval": {"by": "test"}},
        ),
        *(
            AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key)
            for d in planned
        ),
    ]
    for d in planned:
        if d.target in failed:
            data = {"attempt": 1, "error": "permanent", "code": "21610", "reason": "opted out"}
            events.append(AuditEvent(EventKind.ATTEMPT_FAILED, dispatch_id, data, delivery_key=d.key))
        else:
            data = {"attempt": 1, "provider_id": f"SM-{d.key}"}
            events.append(AuditEvent(EventKind.ATTEMPT_SUCCEEDED, dispatch_id, data, delivery_key=d.key))
    await store.append(events)
    return planned


async def _replies(store: AuditStore, dispatch_id: str) -> list[dict[str, object]]:
    return [
        dict(s.event.data)
        async for s in store.events(dispatch_id)
        if s.event.kind is EventKind.REPLY_RECEIVED
    ]


async def test_the_newest_polled_dispatch_that_reached_the_number_gets_the_answer(store: AuditStore) -> None:
    """A later dispatch without a poll is passed over; an earlier polled one loses to a newer one;
    the thanks is in the language of the text that reached the person."""
    await _sent(store, "d-older-poll", [("sms", ANA, 0, "en")])
    await _sent(store, "d-newer-poll", [("sms", BEN, 0, "en"), ("sms", ANA, 0, "es")])
    await _sent(store, "d-no-poll", [("sms", ANA, 0, "en")], poll=None)
    outcome = await record_reply(store, number=ANA, text="1", provider_id="SM-in-1")
    assert (outcome.kind, outcome.dispatch_id, outcome.code) == ("answer", "d-newer-poll", "1")
    assert outcome.respond == "Gracias, registrado: Estoy a salvo."
    assert await _replies(store, "d-older-poll") == [] and await _replies(store, "d-no-poll") == []
    [reply] = await _replies(store, "d-newer-poll")
    assert (reply["from"], reply["kind"], reply["code"], reply["late"]) == (ANA, "answer", "1", False)
    rollcall = await build_rollcall(store, "d-newer-poll")
    assert rollcall is not None
    assert {p.number: p.state for p in rollcall.people} == {ANA: "answered", BEN: "not_answered"}


async def test_a_number_the_poll_never_reached_is_recorded_nowhere(store: AuditStore) -> None:
    """A failed text is no open poll for that number: the reply is no_poll and nothing is recorded."""
    await _sent(store, "d-poll", [("sms", ANA, 0, "en"), ("sms", BEN, 0, "en")], failed=(BEN,))
    outcome = await record_reply(store, number=BEN, text="1", provider_id="SM-in-2")
    assert (outcome.kind, outcome.dispatch_id) == ("no_poll", None)
    outcome = await record_reply(store, number="+15550100999", text="1", provider_id="SM-in-3")
    assert outcome.kind == "no_poll"
    assert await _replies(store, "d-poll") == []


async def test_a_text_in_two_parts_and_a_call_make_one_match_and_late_stays_late(store: AuditStore) -> None:
    """Several delivered rows to one number in one dispatch answer once; after the deadline the
    answer still counts, marked late; STOP and unknown text are read as before."""
    sent = datetime.now(UTC) - timedelta(minutes=POLL.deadline_min + 5)
    await _sent(
        store, "d-poll", [("sms", ANA, 0, "en"), ("sms", ANA, 1, "en"), ("voice", ANA, 0, "en")], sent=sent
    )
    late = await record_reply(store, number=ANA, text="one", provider_id="SM-in-4")
    assert (late.kind, late.code, late.late) == ("answer", "1", True)
    assert (await record_reply(store, number=ANA, text="one", provider_id="SM-in-4")).kind == "duplicate"
    unknown = await record_reply(store, number=ANA, text="later", provider_id="SM-in-5")
    assert (unknown.kind, unknown.respond) == ("unknown", "Reply 1 = I am safe, 2 = I need help")
    stop = await record_reply(store, number=ANA, text="STOP", provider_id="SM-in-6")
    assert (stop.kind, stop.respond) == ("opt_out", None)
    assert [r["kind"] for r in await _replies(store, "d-poll")] == ["answer", "unknown", "opt_out"]
