"""The on-call schedule: who is on call for which role, from when to when.

Two forms are read:

- **iCal** (``.ics``, RFC 5545): each event is one on-call period. Its ``SUMMARY`` is the role
  (``security``); the person is each ``ATTENDEE`` or ``CONTACT`` (``tel:+16175550102``,
  ``mailto:ana@example.org`` or a name), else what follows a colon in the summary
  (``security: Ben Okafor``). Recurring events (``RRULE``) are expanded with
  ``recurring-ical-events``. All-day events run from midnight to midnight in the roster's zone.
- **CSV** with the columns ``role,who,from,to`` (ISO 8601 times; one without an offset is read
  in the roster's zone). ``who`` is a phone number, an e-mail address or a name as in the
  contacts file.

A row or event that cannot be used is a ``problem`` (a plain sentence), never an exception:
the rest of the schedule still counts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

__all__ = ["OnCall", "Schedule", "parse_csv_schedule", "parse_ical_schedule"]


@dataclass(frozen=True, slots=True)
class OnCall:
    """One on-call period: ``role`` (lower-case), ``who`` as written, ``start`` ≤ t < ``end``."""

    role: str
    who: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class Schedule:
    """The periods of a CSV schedule, or an iCal calendar expanded on demand, and its problems."""

    source: str
    periods: list[OnCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    calendar: Any = None  # an icalendar.Calendar (iCal schedules)
    zone: tzinfo | None = None

    def on_call(self, now: datetime) -> list[OnCall]:
        """The periods that include ``now`` (aware), in schedule order."""
        found = [p for p in self.periods if p.start <= now < p.end]
        if self.calendar is not None:
            found.extend(_ical_at(self, now))
        return found

    def roles(self) -> set[str]:
        roles = {p.role for p in self.periods}
        if self.calendar is not None:
            roles |= {_role(str(e.get("SUMMARY", ""))) for e in self.calendar.walk("VEVENT")}
        return roles


def _aware(value: datetime | date, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _role(summary: str) -> str:
    return summary.partition(":")[0].strip().casefold()


def _people(event: Any) -> list[str]:
    people: list[str] = []
    for name in ("ATTENDEE", "CONTACT"):
        values = event.get(name)
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            text = str(value).strip()
            for prefix in ("tel:", "mailto:", "TEL:", "MAILTO:"):
                text = text.removeprefix(prefix)
            if text:
                people.append(text.strip())
    if not people:
        after = str(event.get("SUMMARY", "")).partition(":")[2].strip()
        people.extend(p.strip() for p in after.split(",") if p.strip())
    return people


def _ical_at(schedule: Schedule, now: datetime) -> list[OnCall]:
    import recurring_ical_events

    zone = schedule.zone or now.tzinfo
    assert zone is not None
    found: list[OnCall] = []
    events = recurring_ical_events.of(schedule.calendar).between(now, now + timedelta(seconds=1))
    for event in events:
        start = _aware(event["DTSTART"].dt, zone)
        end = _aware(event["DTEND"].dt, zone) if "DTEND" in event else start + timedelta(days=1)
        if not start <= now < end:
            continue
        role = _role(str(event.get("SUMMARY", "")))
        found.extend(OnCall(role, who, start, end) for who in _people(event))
    return found


def parse_ical_schedule(text: str, *, zone: tzinfo, source: str) -> Schedule:
    """An iCal schedule (see the module docstring); a text that is not iCal is one problem."""
    import icalendar

    schedule = Schedule(source, zone=zone)
    try:
        schedule.calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        schedule.problems.append(f"the schedule {source} is not a readable iCal calendar ({exc})")
        return schedule
    for event in schedule.calendar.walk("VEVENT"):
        summary = str(event.get("SUMMARY", "")).strip()
        when = event.get("DTSTART")
        label = f"the event {summary!r}" + (f" starting {when.dt}" if when is not None else "")
        if not _role(summary):
            schedule.problems.append(f"{label} has no summary, so its role is unknown")
        elif not _people(event):
            schedule.problems.append(f"{label} names nobody (give an ATTENDEE or 'role: name')")
        if when is None:
            schedule.problems.append(f"{label} has no start time")
    return schedule


def _skipped(row: list[str]) -> bool:
    """A blank row or a ``#`` comment."""
    return not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#")


def parse_csv_schedule(lines: Iterable[str], *, zone: tzinfo, source: str) -> Schedule:
    """A CSV schedule ``role,who,from,to`` (see the module docstring)."""
    schedule = Schedule(source)
    reader = csv.reader(lines)
    header = next((r for r in reader if not _skipped(r)), None)
    if header is None:
        return schedule
    columns = [c.strip().casefold() for c in header]
    missing = [c for c in ("role", "who", "from", "to") if c not in columns]
    if missing:
        schedule.problems.append(
            f"the schedule {source} has no {', '.join(missing)} column; "
            "its first row must be role,who,from,to"
        )
        return schedule
    at = {c: columns.index(c) for c in ("role", "who", "from", "to")}
    for row in reader:
        if _skipped(row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in at.items()}
        where = f"line {reader.line_num}"
        if not cells["role"] or not cells["who"]:
            schedule.problems.append(f"{where}: the role or the person is missing")
            continue
        try:
            start = _aware(datetime.fromisoformat(cells["from"]), zone)
            end = _aware(datetime.fromisoformat(cells["to"]), zone)
        except ValueError:
            schedule.problems.append(f"{where}: from and to must be times like 2026-12-04T19:00")
            continue
        if end <= start:
            schedule.problems.append(f"{where}: the period ends before it starts")
            continue
        schedule.periods.append(OnCall(cells["role"].casefold(), cells["who"], start, end))
    return schedule
