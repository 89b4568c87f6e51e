"""Replies in: an inbound text matched to the sender's newest open poll, recorded on the chain.

``record_reply`` finds, among the most recent dispatches, the newest one whose message has a
poll and which reached the sender's number (a delivery to it was delivered). The reply is
read (``crisiscast.rollcall.poll.read_answer``) and recorded as a ``reply_received`` event
of that dispatch: ``kind`` ``answer`` (with its ``code``; ``late`` after the poll's deadline),
``opt_out`` (STOP and its kin: the carrier now blocks this number), ``help`` (HELP, INFO,
START), or ``unknown`` (answered with how to reply). The provider's message id makes a retried
webhook a duplicate, recorded once. A number with no open poll is recorded nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.views import ChainViews
from crisiscast.delivery import DeliveryState
from crisiscast.message import CrisisMessage
from crisiscast.rollcall.poll import OPT_OUT_KEYWORDS, carrier_keyword, poll_line, read_answer

__all__ = ["SCAN_DISPATCHES", "ReplyOutcome", "record_reply"]

SCAN_DISPATCHES = 50
TEXT_MAX_CHARS = 160
_THANKS = {"en": "Thank you, recorded", "es": "Gracias, registrado", "fr": "Merci, enregistré"}


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What a reply was: ``kind``, the dispatch it answers (None: no open poll for the number),
    the answer code, and the text to send back (None: nothing)."""

    kind: str  # answer | opt_out | help | unknown | no_poll | duplicate
    dispatch_id: str | None = None
    code: str | None = None
    late: bool = False
    respond: str | None = None


async def _open_poll(store: AuditStore, number: str) -> tuple[str, CrisisMessage, str] | None:
    """(dispatch id, message, language) of the newest polled dispatch that reached ``number``."""
    views = ChainViews(store)  # who was reached, as the events show (crisiscast.audit.views)
    for record in await store.dispatches(limit=SCAN_DISPATCHES):
        if record.state == "draft" or not record.message.get("poll"):
            continue
        for rec in await views.deliveries(record.dispatch_id, states=[DeliveryState.DELIVERED]):
            if rec.delivery.target == number:
                return record.dispatch_id, CrisisMessage.model_validate(record.message), rec.delivery.language
    return None


async def record_reply(
    store: AuditStore, *, number: str, text: str, provider_id: str, now: datetime | None = None
) -> ReplyOutcome:
    """Read and record one inbound reply from ``number`` (E.164); see the module docstring."""
    now = now or datetime.now(UTC)
    found = await _open_poll(store, number)
    if found is None:
        return ReplyOutcome("no_poll")
    dispatch_id, message, language = found
    assert message.poll is not None
    _, created = await store.bind_key(f"reply:{provider_id}", dispatch_id)
    if not created:
        return ReplyOutcome("duplicate", dispatch_id)
    keyword = carrier_keyword(text)
    code = None if keyword else read_answer(text, message.poll)
    late = now > message.poll.closes_at(message.sent)
    if keyword is not None:
        kind = "opt_out" if keyword in OPT_OUT_KEYWORDS else "help"
        respond = None  # the carrier answers its own keywords
    elif code is not None:
        kind = "answer"
        lang = language.split("-")[0]
        respond = f"{_THANKS.get(lang, _THANKS['en'])}: {message.poll.label(code, language)}."
    else:
        kind, respond = "unknown", poll_line(message.poll, language)
    data = {
        "from": number,
        "kind": kind,
        "code": code,
        "late": late,
        "provider_id": provider_id,
        "text": text[:TEXT_MAX_CHARS],
    }
    event = AuditEvent(kind=EventKind.REPLY_RECEIVED, dispatch_id=dispatch_id, data=data, at=now)
    await store.append([event])
    return ReplyOutcome(kind, dispatch_id, code, late, respond)
