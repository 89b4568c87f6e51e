"""``crisiscast contacts check``: is every person reachable by more than one means, before an incident?

``check_contacts(load, audiences, opted_out)`` looks at a contacts file (already parsed) and
reports, pure and I/O-free:

- for every person, the paths they have (``sms``, ``voice``, ``email``), in their order;
- every person with no alternate means: one path only, or — after their number opted out of
  SMS (Twilio error 21610) — SMS is no longer a path at all;
- every audience (``[audiences]``) whose members include nobody reachable by an alternate
  means (the CMS emergency-preparedness rule asks for primary *and* alternate means);
- duplicates: one phone number or one e-mail address on several rows;
- rows skipped, and values left out (a bad e-mail address, voice number or path);
- the numbers that opted out of SMS, with the person they belong to.

``opted_out_numbers(store)`` finds those numbers in the audit: deliveries that failed with
Twilio's error code 21610 ("the recipient replied STOP").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crisiscast.contacts import Contact, ContactsLoad
from crisiscast.jsontypes import JsonObject

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore

__all__ = ["OPTED_OUT_CODE", "ContactsReport", "OptOut", "check_contacts", "opted_out_numbers"]

OPTED_OUT_CODE = "21610"
"""Twilio: the number replied STOP; no SMS reaches it until it replies START."""
_SMS = "sms"


@dataclass(frozen=True, slots=True)
class OptOut:
    """A number that opted out of SMS, seen failing with 21610 in ``dispatch_id``."""

    number: str
    dispatch_id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Duplicate:
    what: str  # "phone" or "e-mail"
    value: str
    lines: tuple[int, ...]


@dataclass(slots=True)
class ContactsReport:
    """What ``check_contacts`` found; ``ok`` when nothing needs fixing."""

    source: str
    people: list[tuple[Contact, tuple[str, ...]]] = field(default_factory=list)  # effective paths
    without_alternate: list[Contact] = field(default_factory=list)
    audiences_without_alternate: list[tuple[str, int]] = field(default_factory=list)  # (audience, members)
    duplicates: list[Duplicate] = field(default_factory=list)
    skipped_rows: list[str] = field(default_factory=list)
    ignored_values: list[str] = field(default_factory=list)
    opted_out: list[OptOut] = field(default_factory=list)
    audit_note: str | None = None  # why the audit could not be read

    @property
    def ok(self) -> bool:
        return not (
            self.without_alternate
            or self.audiences_without_alternate
            or self.duplicates
            or self.skipped_rows
            or self.ignored_values
            or self.opted_out
            or self.audit_note
        )

    def to_json(self) -> JsonObject:
        return {
            "source": self.source,
            "ok": self.ok,
            "people": [
                {
                    "line": c.line,
                    "name": c.name,
                    "paths": list(p),
                    "phone": c.phone,
                    "email": c.email,
                    "voice": c.voice_number,
                }
                for c, p in self.people
            ],
            "without_alternate": [{"line": c.line, "name": c.name} for c in self.without_alternate],
            "audiences_without_alternate": [
                {"audience": a, "members": n} for a, n in self.audiences_without_alternate
            ],
            "duplicates": [
                {"what": d.what, "value": d.value, "lines": list(d.lines)} for d in self.duplicates
            ],
            "skipped_rows": self.skipped_rows,
            "ignored_values": self.ignored_values,
            "opted_out": [
                {"number": o.number, "name": o.name, "dispatch_id": o.dispatch_id} for o in self.opted_out
            ],
            "audit_note": self.audit_note,
        }

    def summary(self) -> str:
        """One plain sentence of what needs doing (or that nothing does)."""
        if self.ok:
            return f"All {len(self.people)} people in {self.source} have an alternate means; nothing to fix."
        parts = []
        if self.without_alternate:
            parts.append(f"{len(self.without_alternate)} people have no alternate means")
        if self.audiences_without_alternate:
            names = ", ".join(a for a, _ in self.audiences_without_alternate)
            parts.append(f"nobody in {names} is reachable by an alternate means")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicated numbers or addresses")
        if self.skipped_rows or self.ignored_values:
            parts.append(f"{len(self.skipped_rows) + len(self.ignored_values)} bad rows or values")
        if self.opted_out:
            parts.append(f"{len(self.opted_out)} numbers opted out of SMS")
        if self.audit_note:
            parts.append(self.audit_note)
        return f"{self.source}: " + "; ".join(parts) + "."


def check_contacts(
    load: ContactsLoad,
    audiences: Mapping[str, Sequence[str]],
    opted_out: Iterable[OptOut] = (),
    *,
    source: str = "contacts",
) -> ContactsReport:
    """The report for ``load`` (see the module docstring)."""
    report = ContactsReport(source=source)
    stopped = {o.number: o for o in opted_out}
    by_phone: dict[str, Contact] = {}
    everyone = sorted((*load.contacts, *load.repeats), key=lambda c: c.line)  # repeated numbers too
    for contact in everyone:
        paths = contact.paths
        if contact.phone in stopped:
            paths = tuple(p for p in paths if p != _SMS)
        report.people.append((contact, paths))
        if len(paths) < 2:
            report.without_alternate.append(contact)
        by_phone.setdefault(contact.phone, contact)
    alternate = {id(c) for c, p in report.people if len(p) >= 2}
    for audience, groups in audiences.items():
        wanted = {g.strip().lower() for g in groups}
        members = [c for c, _ in report.people if not wanted.isdisjoint(c.groups)]
        if members and not any(id(c) in alternate for c in members):
            report.audiences_without_alternate.append((audience, len(members)))
    report.duplicates = _duplicates(everyone)
    repeated = {c.line for c in load.repeats}  # reported as duplicates, not as skipped rows
    report.skipped_rows = [str(p) for p in load.problems if p.line not in repeated]
    report.ignored_values = [str(p) for p in load.notes]
    report.opted_out = [
        OptOut(o.number, o.dispatch_id, by_phone[o.number].name if o.number in by_phone else "")
        for o in stopped.values()
    ]
    return report


def _duplicates(contacts: Sequence[Contact]) -> list[Duplicate]:
    lines: dict[tuple[str, str], list[int]] = {}
    for c in contacts:
        lines.setdefault(("phone", c.phone), []).append(c.line)
        if c.email:
            lines.setdefault(("e-mail", c.email.casefold()), []).append(c.line)
    return [Duplicate(what, value, tuple(ls)) for (what, value), ls in lines.items() if len(ls) > 1]


async def opted_out_numbers(store: AuditStore, *, dispatches: int = 200) -> list[OptOut]:
    """Numbers whose delivery failed with 21610 in the newest ``dispatches``, newest first."""
    from crisiscast.delivery import DeliveryState

    found: dict[str, OptOut] = {}
    for record in await store.dispatches(limit=dispatches):
        for d in await store.deliveries(record.dispatch_id, states=[DeliveryState.FAILED]):
            if d.last_code == OPTED_OUT_CODE and d.delivery.target.startswith("+"):
                found.setdefault(d.delivery.target, OptOut(d.delivery.target, record.dispatch_id))
    return list(found.values())
