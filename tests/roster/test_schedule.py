"""The on-call schedule from iCal (recurring events) and CSV, and shifts in the roster's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crisiscast.roster.config import AudienceRule, RosterConfig, ShiftHours
from crisiscast.roster.schedule import OnCall, parse_csv_schedule, parse_ical_schedule
from crisiscast.roster.shifts import on_shift
from tests.roster.data import CSV, ICAL


def _who(periods: list[OnCall]) -> list[tuple[str, str]]:
    return [(p.role, p.who) for p in periods]


def test_ical_recurring_events_say_who_is_on_call_at_a_moment() -> None:
    schedule = parse_ical_schedule(ICAL, zone=UTC, source="on-call.ics")
    assert not schedule.problems
    day = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    night = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    assert _who(schedule.on_call(day)) == [("security", "+16175550103"), ("physician", "nobody@example.org")]
    assert _who(schedule.on_call(night)) == [("security", "Di Park"), ("physician", "nobody@example.org")]
    after = datetime(2026, 12, 12, 12, 0, tzinfo=UTC)  # COUNT=10 ran out
    assert schedule.on_call(after) == []
    assert schedule.roles() == {"security", "physician"}


def test_an_ical_text_that_is_not_a_calendar_is_one_problem() -> None:
    schedule = parse_ical_schedule("BEGIN:VCALENDAR\nthis is not ical", zone=UTC, source="x.ics")
    assert len(schedule.problems) == 1 and "not a readable iCal calendar" in schedule.problems[0]


def test_an_event_naming_nobody_is_a_problem() -> None:
    text = ICAL.replace("SUMMARY:security: Di Park", "SUMMARY:security")
    problems = parse_ical_schedule(text, zone=UTC, source="x.ics").problems
    assert len(problems) == 1 and "names nobody" in problems[0]


def test_csv_periods_with_naive_times_in_the_roster_zone_and_bad_rows_reported() -> None:
    zone = ZoneInfo("America/New_York")
    schedule = parse_csv_schedule(CSV.splitlines(), zone=zone, source="on-call.csv")
    assert schedule.problems == ["line 5: from and to must be times like 2026-12-04T19:00"]
    # Di Park's 20:00 is New York time: 01:00 UTC the next day
    assert _who(schedule.on_call(datetime(2026, 12, 5, 0, 30, tzinfo=UTC))) == [("physician", "ed moss")]
    assert ("security", "Di Park") in _who(schedule.on_call(datetime(2026, 12, 5, 1, 30, tzinfo=UTC)))


def test_csv_without_the_columns_is_one_problem() -> None:
    schedule = parse_csv_schedule(["name,phone\n"], zone=UTC, source="s.csv")
    assert schedule.problems and "role,who,from,to" in schedule.problems[0]


@pytest.mark.parametrize(
    ("hour", "day", "night"), [(6, False, True), (7, True, False), (18, True, False), (19, False, True)]
)
def test_day_and_night_shifts_in_the_roster_zone(hour: int, day: bool, night: bool) -> None:
    config = RosterConfig(timezone="America/New_York")
    now = datetime(2026, 12, 4, hour, 0, tzinfo=ZoneInfo("America/New_York"))
    assert (on_shift("Day", now, config), on_shift("night", now, config)) == (day, night)
    assert not on_shift("", now, config) and not on_shift("weekend", now, config)


def test_config_refuses_bad_hours_zones_and_empty_rules() -> None:
    with pytest.raises(ValueError, match="time of day"):
        ShiftHours(start="25:00", end="07:00")
    with pytest.raises(ValueError, match="time zone"):
        RosterConfig(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="at least one"):
        AudienceRule()


def test_the_shipped_example_schedules_read_cleanly_and_name_shipped_contacts() -> None:
    from pathlib import Path

    from crisiscast.contacts import load_contacts
    from crisiscast.roster.audiences import on_call_contacts
    from crisiscast.roster.source import clear_cache, current_schedule

    root = Path(__file__).resolve().parents[2]
    staff = load_contacts(root / "config" / "contacts.csv").contacts
    clear_cache()
    for name in ("on-call.ics", "on-call.csv"):
        config = RosterConfig(schedule=str(root / "config" / "examples" / name))
        schedule = current_schedule(config)
        assert schedule is not None and not schedule.problems
        on_call, missing = on_call_contacts(schedule, staff, datetime(2026, 12, 4, 20, 0, tzinfo=UTC), config)
        assert not missing and [c.name for c in on_call["security"]] == ["Marisol Vega"]
