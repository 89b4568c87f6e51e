"""Audiences resolved to contacts: ``[audiences]`` by contact group, ``[roster.audiences]`` by rule.

A message's ``audiences`` may name either kind. ``reached`` is what the staff channels (SMS,
voice, e-mail) send to: one contact per phone number, in contacts-file order. A roster audience
is resolved at the moment given (the plan's render time): who is on shift or on call then.

``empty_audience_refusal`` is the sentence that refuses a send naming an audience that
resolves to nobody now (the preview shows every audience's count).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from crisiscast.contacts import Contact, normalise_phone
from crisiscast.errors import PolicyError
from crisiscast.roster.config import AudienceRule, RosterConfig
from crisiscast.roster.schedule import OnCall, Schedule
from crisiscast.roster.shifts import on_shift
from crisiscast.roster.source import current_schedule

if TYPE_CHECKING:
    from crisiscast.config import Settings

__all__ = [
    "audience_counts",
    "audience_labels",
    "check_known",
    "empty_audience_refusal",
    "known_audiences",
    "match_person",
    "on_call_contacts",
    "reached",
    "rule_members",
]


def known_audiences(settings: Settings) -> list[str]:
    """Every audience a message may name: the group audiences, then the roster audiences."""
    return [*settings.audiences, *settings.roster.audiences]


def audience_labels(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Every audience with what it selects: its contact groups, or its roster rule in words."""
    labels: dict[str, tuple[str, ...]] = dict(settings.audiences)
    for name, rule in settings.roster.audiences.items():
        words = [f"{k} {v}" for k, v in rule.attributes().items()]
        words += [f"group {g}" for g in rule.groups]
        words += ["on duty now"] if rule.on_duty else []
        words += [f"on call for {rule.on_call}"] if rule.on_call else []
        labels[name] = tuple(words)
    return labels


def check_known(settings: Settings, names: Collection[str]) -> None:
    """``PolicyError`` naming the first audience that is defined nowhere."""
    known = set(known_audiences(settings))
    unknown = [a for a in names if a not in known]
    if unknown:
        raise PolicyError(
            f"The audience {unknown[0]!r} is not defined in [audiences] or [roster.audiences] of the "
            f"configuration; use one of: {', '.join(sorted(known))}."
        )


def match_person(who: str, contacts: Sequence[Contact], region: str) -> Contact | None:
    """The contact a schedule's ``who`` names: by phone number, e-mail address, or name."""
    text = who.strip()
    try:
        number: str | None = normalise_phone(text, region) if any(c.isdigit() for c in text) else None
    except ValueError:
        number = None
    folded = text.casefold()
    for contact in contacts:
        if number is not None and number in (contact.phone, contact.voice_number):
            return contact
        if contact.email is not None and contact.email.casefold() == folded:
            return contact
    return next((c for c in contacts if c.name and c.name.casefold() == folded), None)


def on_call_contacts(
    schedule: Schedule | None, contacts: Sequence[Contact], now: datetime, config: RosterConfig
) -> tuple[dict[str, list[Contact]], list[str]]:
    """Role → the contacts on call for it at ``now``; and the people the schedule names that
    are not in the contacts file (one sentence each)."""
    by_role: dict[str, list[Contact]] = {}
    missing: list[str] = []
    periods: list[OnCall] = schedule.on_call(now) if schedule is not None else []
    for period in periods:
        contact = match_person(period.who, contacts, config.default_region)
        if contact is None:
            missing.append(
                f"{period.who!r}, on call for {period.role} now, is not in the contacts file "
                "(match by phone, e-mail or name)"
            )
        elif contact not in by_role.setdefault(period.role, []):
            by_role[period.role].append(contact)
    return by_role, missing


def rule_members(
    rule: AudienceRule, contacts: Sequence[Contact], now: datetime, on_call: dict[str, list[Contact]],
    config: RosterConfig,
) -> list[Contact]:
    """The contacts ``rule`` selects at ``now`` (``on_call``: from ``on_call_contacts``)."""
    wanted = rule.attributes()
    groups = {g.casefold() for g in rule.groups}
    called = {c.phone for people in on_call.values() for c in people}
    role_called = {c.phone for c in on_call.get(rule.on_call.casefold(), [])} if rule.on_call else None
    chosen: list[Contact] = []
    for contact in contacts:
        values = contact.attributes
        if any(values[k].strip().casefold() != v for k, v in wanted.items()):
            continue
        if groups and groups.isdisjoint(contact.groups):
            continue
        if role_called is not None and contact.phone not in role_called:
            continue
        if rule.on_duty and not (on_shift(contact.shift, now, config) or contact.phone in called):
            continue
        chosen.append(contact)
    return chosen


def _members_by_audience(
    settings: Settings, names: Sequence[str], contacts: Sequence[Contact], now: datetime
) -> dict[str, list[Contact]]:
    config = settings.roster
    on_call: dict[str, list[Contact]] = {}
    rules = [config.audiences[n] for n in names if n in config.audiences]
    if any(rule.on_call or rule.on_duty for rule in rules):
        schedule = current_schedule(config, settings.base_dir)
        on_call, _ = on_call_contacts(schedule, contacts, now, config)
    out: dict[str, list[Contact]] = {}
    for name in dict.fromkeys(names):
        if name in config.audiences:
            out[name] = rule_members(config.audiences[name], contacts, now, on_call, config)
        else:
            groups = {g.lower() for g in settings.audiences.get(name, ())}
            out[name] = [c for c in contacts if not groups.isdisjoint(c.groups)]
    return out


def reached(
    settings: Settings, names: Sequence[str], contacts: Sequence[Contact], now: datetime
) -> list[Contact]:
    """The contacts any of ``names`` reaches at ``now``: one per phone number, in file order."""
    members = _members_by_audience(settings, names, contacts, now)
    phones = {c.phone for people in members.values() for c in people}
    seen: set[str] = set()
    out: list[Contact] = []
    for contact in contacts:
        if contact.phone in phones and contact.phone not in seen:
            seen.add(contact.phone)
            out.append(contact)
    return out


def audience_counts(
    settings: Settings, names: Sequence[str], contacts: Sequence[Contact], now: datetime
) -> dict[str, int]:
    """How many people (distinct phone numbers) each audience resolves to at ``now``."""
    members = _members_by_audience(settings, names, contacts, now)
    return {name: len({c.phone for c in people}) for name, people in members.items()}


def empty_audience_refusal(counts: dict[str, int], settings: Settings) -> str | None:
    """The sentence refusing a send when a roster audience resolves to nobody, else None."""
    empty = [n for n, count in counts.items() if count == 0 and n in settings.roster.audiences]
    if not empty:
        return None
    which = ", ".join(repr(n) for n in empty)
    return (
        f"Nothing was sent: the audience {which} resolves to nobody right now; check the roster "
        "(crisiscast roster check) or choose another audience."
    )
