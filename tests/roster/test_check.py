"""``crisiscast roster check``: who is on call now, audience counts, and what to fix."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisiscast.cli.demo_run import to_toml
from crisiscast.config import Settings
from crisiscast.contacts import parse_contacts
from crisiscast.roster.check import check_roster
from crisiscast.roster.source import clear_cache
from tests.cli.conftest import Cli, cli  # noqa: F401  (the fixture)
from tests.roster.data import CONTACTS, ICAL, write

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AUDIENCES = {
    "on-call-security": {"on_call": "security"},
    "on-call-pharmacy": {"on_call": "pharmacy"},
    "ed-nurses-on-duty": {"role": "nurse", "department": "ED", "on_duty": True},
}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def test_the_report_names_who_is_on_call_and_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "on-call.ics", ICAL)
    settings = Settings.model_validate(
        {"base_dir": str(tmp_path), "roster": {"schedule": "on-call.ics", "audiences": AUDIENCES}}
    )
    staff = parse_contacts((CONTACTS + "Fay Wu,+16175550106,staff,en,nurse,ED,A,1,weekend\n").splitlines())
    report = check_roster(settings, staff.contacts, NOON)
    assert report.on_call == {"security": ["Cy Lee"]}
    assert report.audiences == {"on-call-security": 1, "on-call-pharmacy": 0, "ed-nurses-on-duty": 1}
    assert report.problems == [
        "'nobody@example.org', on call for physician now, is not in the contacts file "
        "(match by phone, e-mail or name)",
        "the shift 'weekend' (line 7) is not in [roster.shifts] (day, night), "
        "so those people are never on duty",
        "the audience 'on-call-pharmacy' is for whoever is on call for 'pharmacy', "
        "but the schedule has no such role",
        "the audience 'on-call-pharmacy' resolves to nobody right now; a send to it is refused",
    ]


def test_an_escalation_role_no_schedule_has_is_a_problem(tmp_path: Path) -> None:
    """``[roster.next_up]``: a mapped or fallback role the schedule never names is reported once."""
    write(tmp_path, "on-call.ics", ICAL)
    next_up = {"department": {"ED": "Security", "ICU": "icu-charge"}, "fallback": "icu-charge"}
    settings = Settings.model_validate(
        {"base_dir": str(tmp_path), "roster": {"schedule": "on-call.ics", "next_up": next_up}}
    )
    report = check_roster(settings, parse_contacts(CONTACTS.splitlines()).contacts, NOON)
    assert [p for p in report.problems if "next_up" in p] == [
        "[roster.next_up] names the on-call role 'icu-charge', but the schedule has no such role, "
        "so nobody on call is told in a silent person's place for it"
    ]


async def test_the_command_prints_json_and_exits_3_when_something_needs_fixing(cli: Cli) -> None:  # noqa: F811
    cli.contacts.write_text(CONTACTS, encoding="utf-8")
    (cli.tmp_path / "on-call.ics").write_text(ICAL, encoding="utf-8")
    raw = tomllib.loads(cli.config.read_text(encoding="utf-8"))
    raw["roster"] = {"schedule": str(cli.tmp_path / "on-call.ics"), "audiences": AUDIENCES}
    cli.config.write_text(to_toml(raw), encoding="utf-8")
    result = await cli.run("roster", "check", "--at", "2026-12-04T23:30:00+00:00", "--json")
    assert result.code == 3, result.stderr
    report = json.loads(result.stdout)
    assert report["on_call"] == {"security": ["Di Park"]}
    assert report["audiences"]["ed-nurses-on-duty"] == 1
    bad = await cli.run("roster", "check", "--at", "tonight")
    assert bad.code == 2 and "is not a time" in bad.stderr
