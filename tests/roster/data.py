"""Shared test data: a small staff file with the descriptive columns, and two schedules."""

from __future__ import annotations

from pathlib import Path

from crisiscast.contacts import Contact, parse_contacts

CONTACTS = """name,phone,groups,language,role,department,building,floor,shift
Ana Ruiz,+16175550101,staff,es,nurse,ED,B,3,day
Ben Okafor,+16175550102,staff,en,nurse,ED,A,1,night
Cy Lee,+16175550103,staff,en,security,Facilities,B,0,day
Di Park,+16175550104,staff,en,security,Facilities,A,0,night
Ed Moss,+16175550105,staff;drill-team,en,physician,ICU,B,2,day
"""

ICAL = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crisiscast tests//EN
BEGIN:VEVENT
UID:sec-weekdays@test
DTSTART:20261130T080000Z
DTEND:20261130T200000Z
RRULE:FREQ=DAILY;COUNT=10
SUMMARY:security
ATTENDEE:tel:+16175550103
END:VEVENT
BEGIN:VEVENT
UID:sec-nights@test
DTSTART:20261130T200000Z
DTEND:20261201T080000Z
RRULE:FREQ=DAILY;COUNT=10
SUMMARY:security: Di Park
END:VEVENT
BEGIN:VEVENT
UID:ghost@test
DTSTART:20261204T000000Z
DTEND:20261205T000000Z
SUMMARY:physician
ATTENDEE:mailto:nobody@example.org
END:VEVENT
END:VCALENDAR
"""

CSV = """role,who,from,to
security,+1 617 555 0103,2026-12-04T08:00:00+00:00,2026-12-04T20:00:00+00:00
security,Di Park,2026-12-04T20:00,2026-12-05T08:00
physician,ed moss,2026-12-04T00:00,2026-12-05T00:00
security,Cy Lee,not a time,2026-12-05T00:00
"""


def contacts() -> tuple[Contact, ...]:
    return parse_contacts(CONTACTS.splitlines(keepends=True)).contacts


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
