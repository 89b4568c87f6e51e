"""Roster audiences resolved to contacts, and the staff channels (SMS, voice, e-mail) reaching them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pydantic import SecretStr, ValidationError

from crisiscast.channels.base import RenderContext
from crisiscast.channels.email.channel import EmailChannel
from crisiscast.channels.email.smtp import SmtpServer
from crisiscast.channels.sms.channel import SmsChannel
from crisiscast.channels.voice.channel import VoiceChannel
from crisiscast.config import Settings
from crisiscast.contacts import ContactsLoad, parse_contacts
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, Status
from crisiscast.roster.audiences import audience_counts, empty_audience_refusal, reached
from crisiscast.roster.source import clear_cache
from tests.roster.data import CONTACTS, ICAL, contacts, write

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
ROSTER: dict[str, Any] = {
    "audiences": {
        "ed-nurses-on-duty": {"role": "nurse", "department": "ed", "on_duty": True},
        "on-call-security": {"on_call": "security"},
        "building-b": {"building": "B"},
        "on-call-physicians": {"on_call": "physician"},
    }
}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def settings(tmp_path: Path, **roster: Any) -> Settings:
    schedule = write(tmp_path, "on-call.ics", ICAL)
    return Settings.model_validate(
        {
            "roster": {**ROSTER, "schedule": str(schedule), **roster},
            "channels": {"sms": {"contacts": "contacts.csv"}, "voice": {"contacts": "contacts.csv"}},
            "base_dir": str(tmp_path),
        }
    )


def names(people: list[Any]) -> list[str]:
    return [p.name for p in people]


def test_on_duty_follows_the_shift_and_on_call_follows_the_schedule(tmp_path: Path) -> None:
    s = settings(tmp_path)
    staff = contacts()
    assert names(reached(s, ["ed-nurses-on-duty"], staff, NOON)) == ["Ana Ruiz"]
    assert names(reached(s, ["ed-nurses-on-duty"], staff, MIDNIGHT)) == ["Ben Okafor"]
    assert names(reached(s, ["on-call-security"], staff, NOON)) == ["Cy Lee"]
    assert names(reached(s, ["on-call-security"], staff, MIDNIGHT)) == ["Di Park"]
    assert names(reached(s, ["building-b"], staff, MIDNIGHT)) == ["Ana Ruiz", "Cy Lee", "Ed Moss"]
    # a group audience and a roster audience together: one contact per number, in file order
    both = reached(s, ["building-b", "exercise"], staff, NOON)
    assert names(both) == ["Ana Ruiz", "Cy Lee", "Ed Moss"]


def test_counts_per_audience_and_the_refusal_of_one_that_resolves_to_nobody(tmp_path: Path) -> None:
    s = settings(tmp_path)
    counts = audience_counts(s, ["all-staff", "on-call-physicians", "building-b"], contacts(), NOON)
    # the physician on call is nobody@example.org, who is not in the contacts file
    assert counts == {"all-staff": 5, "on-call-physicians": 0, "building-b": 3}
    refusal = empty_audience_refusal(counts, s)
    assert refusal is not None and "'on-call-physicians' resolves to nobody right now" in refusal
    assert empty_audience_refusal({"all-staff": 0, "building-b": 3}, s) is None  # groups: not roster


def test_an_unreadable_schedule_makes_on_call_audiences_empty(tmp_path: Path) -> None:
    s = settings(tmp_path, schedule=str(tmp_path / "missing.ics"))
    assert reached(s, ["on-call-security"], contacts(), NOON) == []


def test_a_name_in_both_kinds_of_audience_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"both \[audiences\] and \[roster.audiences\]"):
        Settings.model_validate({"roster": {"audiences": {"all-staff": {"building": "B"}}}})


def _message(*audiences: str, status: Status = Status.ACTUAL) -> CrisisMessage:
    return CrisisMessage(status=status, headline="Code Silver in Building B. Stay away.", audiences=audiences)


def _load() -> ContactsLoad:
    return parse_contacts(CONTACTS.splitlines(keepends=True))


def test_sms_and_voice_reach_a_roster_audience_as_it_stands_at_render_time(tmp_path: Path) -> None:
    s = settings(tmp_path)
    sms = SmsChannel(s, SecretStr("token-123456"), contacts=_load())
    voice = VoiceChannel(s, SecretStr("token-123456"), contacts=_load())
    msg = _message("on-call-security", "ed-nurses-on-duty")
    with time_machine.travel(NOON, tick=False):
        assert [d.target for d in sms.render(msg, RenderContext("d1"))] == ["+16175550101", "+16175550103"]
    with time_machine.travel(MIDNIGHT, tick=False):
        called = [d.target for d in voice.render(msg, RenderContext("d2"))]
    assert called == ["+16175550102", "+16175550104"]


def test_email_reaches_a_roster_audience(tmp_path: Path) -> None:
    with_email = Settings.model_validate({"channels": {"email": {"from_address": "a@example.org"}}})
    s = settings(tmp_path).model_copy(update={"channels": with_email.channels})
    text = "name,phone,groups,email,role\nCy Lee,+16175550103,staff,cy@example.org,security\n"
    text += "Ana Ruiz,+16175550101,staff,ana@example.org,nurse\n"
    server = SmtpServer("127.0.0.1", 9, "none", "none", "", None, 1.0)
    email = EmailChannel(s, server, parse_contacts(text.splitlines(keepends=True)))
    deliveries = email.render(_message("on-call-security"), RenderContext("d3", now=NOON))
    assert [d.target for d in deliveries] == ["cy@example.org"]


def test_an_audience_defined_nowhere_is_refused_naming_both_sections(tmp_path: Path) -> None:
    sms = SmsChannel(settings(tmp_path), SecretStr("token-123456"), contacts=_load())
    with pytest.raises(PolicyError, match=r"\[roster.audiences\]"):
        sms.render(_message("night-porters"), RenderContext("d4", now=NOON))


def test_a_drill_reaches_only_the_exercise_audience(tmp_path: Path) -> None:
    sms = SmsChannel(settings(tmp_path), SecretStr("token-123456"), contacts=_load())
    deliveries = sms.render(_message("building-b", status=Status.EXERCISE), RenderContext("d5", now=NOON))
    assert [d.target for d in deliveries] == ["+16175550105"]


def test_the_send_checks_read_nothing_unless_a_roster_audience_is_named(tmp_path: Path) -> None:
    from crisiscast.roster.preview import preview_audiences

    write(tmp_path, "contacts.csv", CONTACTS)
    s = settings(tmp_path)
    groups_only = _message("all-staff")
    assert preview_audiences(groups_only, s, now=NOON).counts == {"all-staff": 5}
    assert preview_audiences(groups_only, s, now=NOON, roster_only=True).counts == {}
    both = preview_audiences(_message("all-staff", "on-call-physicians"), s, now=NOON, roster_only=True)
    assert both.counts == {"all-staff": 5, "on-call-physicians": 0} and both.refusal is not None
    drill = preview_audiences(_message("on-call-physicians", status=Status.EXERCISE), s, now=NOON)
    assert drill.counts == {"exercise": 1} and drill.refusal is None  # a drill reaches the exercise audience
