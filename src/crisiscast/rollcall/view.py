"""The roll-call: who is accounted for, derived from a dispatch's deliveries and reply events.

Per person (a number the dispatch targeted on a per-person channel — SMS, voice): ``answered``
(with the answer; ``late`` after the deadline), ``not_answered`` (reached, no answer yet),
``unreachable`` (every delivery to them failed), ``pending`` (not sent yet), or ``opted_out``
(replied STOP or its kin: the carrier now blocks texts to them — call them). The latest
answer counts; a press-1 on a call (an escalation's, or a voice alert's) answers 1. Names come
from the contacts file when it is given.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.views import ChainViews
from crisiscast.channels.registry import specs
from crisiscast.contacts import ContactsLoad
from crisiscast.delivery import DeliveryState
from crisiscast.escalation.policy import is_notice
from crisiscast.message import CrisisMessage
from crisiscast.rollcall.poll import Poll

__all__ = ["PersonStatus", "RollCall", "build_rollcall"]

_FAILED = {DeliveryState.FAILED, DeliveryState.CANCELLED, DeliveryState.SKIPPED}


PRESSED_ONE = "confirmed"  # a call's receipt when the person pressed 1 ("press 1 to confirm")


def _reply(event: AuditEvent) -> bool:
    """What the roll-call reads beside the deliveries: replies (answers, opt-outs) and the
    press-1 of a call (kept alone, not every delivery receipt)."""
    kind = event.kind
    return kind is EventKind.REPLY_RECEIVED or (
        kind is EventKind.RECEIPT_STATUS and event.data.get("status") == PRESSED_ONE
    )


def _pressed_one(
    person: PersonStatus | None, poll: Poll | None, closes_at: datetime | None, at: datetime
) -> None:
    """A press-1 on a call answers the poll's answer 1 (a person who opted out stays so)."""
    if person is None or poll is None or person.state == "opted_out":
        return
    if not any(a.code == "1" for a in poll.answers):
        return
    person.state, person.code, person.at = "answered", "1", at.isoformat()
    person.answer = poll.label("1", person.language)
    person.late = closes_at is not None and at > closes_at


@dataclass(slots=True)
class PersonStatus:
    number: str
    name: str
    language: str
    state: str  # answered | not_answered | unreachable | pending | opted_out
    code: str | None = None
    answer: str | None = None
    late: bool = False
    at: str | None = None


@dataclass(slots=True)
class RollCall:
    dispatch_id: str
    poll: Poll | None
    closes_at: datetime | None
    people: list[PersonStatus] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        states = Counter(p.state for p in self.people)
        return {
            "people": len(self.people),
            "reached": sum(1 for p in self.people if p.state in {"answered", "not_answered"}),
            "answered": states["answered"],
            "not_answered": states["not_answered"],
            "unreachable": states["unreachable"],
            "pending": states["pending"],
            "opted_out": states["opted_out"],
        }

    def by_answer(self) -> dict[str, int]:
        if self.poll is None:
            return {}
        counted = Counter(p.code for p in self.people if p.state == "answered")
        return {a.code: counted[a.code] for a in self.poll.answers}

    def to_json(self, *, with_people: bool = True) -> dict[str, object]:
        document: dict[str, object] = {
            "dispatch_id": self.dispatch_id,
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
            "answers": [
                {"code": a.code, "label": a.label, "count": self.by_answer()[a.code]}
                for a in (self.poll.answers if self.poll else ())
            ],
            "counts": self.counts(),
        }
        if with_people:
            document["people"] = [
                {
                    "number": p.number,
                    "name": p.name,
                    "state": p.state,
                    "code": p.code,
                    "answer": p.answer,
                    "late": p.late,
                    "at": p.at,
                }
                for p in self.people
            ]
        return document


async def build_rollcall(
    store: AuditStore, dispatch_id: str, contacts: ContactsLoad | None = None
) -> RollCall | None:
    """The roll-call of ``dispatch_id`` (None for an unknown dispatch), from the dispatch's own
    events (``ChainViews``), never from caches a database edit could change."""
    views = ChainViews(store, keep=_reply)  # the replies come from the same verified reading
    record = await views.dispatch(dispatch_id)
    if record is None:
        return None
    message = CrisisMessage.model_validate(record.message)
    poll = message.poll
    result = RollCall(dispatch_id, poll, poll.closes_at(message.sent) if poll else None)
    per_person = {s.name for s in specs() if s.audience_isolated}
    names = {c.phone: c.name for c in contacts.contacts} if contacts is not None else {}
    people: dict[str, PersonStatus] = {}
    called: dict[str, str] = {}  # delivery key → number, for a press-1 on a call
    for rec in await views.deliveries(dispatch_id):
        d = rec.delivery
        if d.channel not in per_person or is_notice(d.payload):  # a supervisor's notice is no person
            continue
        called[d.key] = d.target
        person = people.setdefault(
            d.target, PersonStatus(d.target, names.get(d.target, ""), d.language, "unreachable")
        )
        if rec.state is DeliveryState.DELIVERED:
            person.state = "not_answered"
        elif rec.state not in _FAILED and person.state == "unreachable":
            person.state = "pending"
    for event in await views.kept(dispatch_id):
        if event.kind is EventKind.RECEIPT_STATUS and event.data.get("status") == PRESSED_ONE:
            _pressed_one(
                people.get(called.get(event.delivery_key or "", "")), poll, result.closes_at, event.at
            )
            continue
        if event.kind is not EventKind.REPLY_RECEIVED:
            continue
        replier = people.get(str(event.data.get("from")))
        if replier is None:
            continue
        person = replier
        kind = event.data.get("kind")
        if kind == "opt_out":
            person.state, person.at = "opted_out", event.at.isoformat()
        elif kind == "answer" and person.state != "opted_out" and poll is not None:
            code = str(event.data.get("code"))
            person.state, person.code, person.at = "answered", code, event.at.isoformat()
            person.answer = poll.label(code, person.language)
            person.late = bool(event.data.get("late"))
    result.people = sorted(people.values(), key=lambda p: (p.state, p.name, p.number))
    return result
