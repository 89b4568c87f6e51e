"""Replies in: an inbound text matched to the sender's newest open poll, recorded on the chain.

``record_reply`` finds, among the most recent dispatches, the newest one whose message has a
poll and which reached the sender's number (a delivery to it was delivered). It reads the
delivered rows for that one number (``AuditStore.delivered_to``, an index), never a whole
dispatch, so a reply costs the same at 50 or 50,000 staff. Those rows are the store's view, not
a replay of the events: a row edited in the database so that its target no longer matches its
key is ignored, the roll-call that counts a reply is rebuilt from the events
(``crisiscast.rollcall.view``, where a number the dispatch's events never targeted counts for
nobody), and ``crisiscast audit verify`` reports any edited row. The reply is read
(``crisiscast.rollcall.poll.read_answer``) and recorded as a ``reply_received`` event of that
dispatch: ``kind`` ``answer`` (with its ``code``; ``late`` after the poll's deadline),
``opt_out`` (STOP and its kin: the carrier now blocks this number), ``help`` (HELP, INFO,
START), or ``unknown`` (answered with how to reply). The provider's message id makes a retried
webhook a duplicate, recorded once. A number with no open poll is recorded nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
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
    """(dispatch id, message, language) of the newest polled dispatch that reached ``number``.

    Reads only the delivered rows for ``number`` (``AuditStore.delivered_to``) and the message
    of the dispatches they belong to, so the cost does not grow with a dispatch's size."""
    seen: set[str] = set()
    for rec in await store.delivered_to(number, newest_dispatches=SCAN_DISPATCHES):
        dispatch_id = rec.delivery.dispatch_id
        if dispatch_id in seen:
            continue  # a later part, or another channel, of a dispatch already looked at
        seen.add(dispatch_id)
        record = await store.dispatch(dispatch_id)
        if record is None or record.state == "draft" or not record.message.get("poll"):
            continue
        return dispatch_id, CrisisMessage.model_validate(record.message), rec.delivery.language
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
