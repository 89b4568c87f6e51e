"""A staff alert to 200 people with mixed paths, through the real dispatcher and the sandbox.

Every person has a phone; two in three also have an e-mail address, some preferring it
first, and one address is refused by the SMTP server (550). The alert goes out on SMS and
e-mail at once: every number gets exactly one text, every address exactly one message, the
refused address fails alone, and the audit records each delivery once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from crisiscast.delivery import DeliveryState
from crisiscast.message import CrisisMessage, Severity, Status
from crisiscast.sandbox.smtp import FakeSmtp

from .stage import open_stage, staff_number

PEOPLE = 200
REFUSED = "person7@hospital.example"


def _contacts() -> tuple[str, list[str]]:
    """The CSV and the e-mail addresses in it: paths sms only, sms;email, email;sms in turn."""
    lines = ["name,phone,groups,language,email,paths"]
    addresses: list[str] = []
    for i in range(PEOPLE):
        kind = i % 3
        email = "" if kind == 0 else f"person{i}@hospital.example"
        paths = {0: "sms", 1: "sms;email", 2: "email;sms"}[kind]
        lines.append(f"Person {i},{staff_number(i)},staff,{'es' if i % 4 == 0 else 'en'},{email},{paths}")
        if email:
            addresses.append(email)
    return "\n".join(lines) + "\n", addresses


@pytest.mark.slow
async def test_two_hundred_people_are_reached_once_per_path(tmp_path: Path, mqtt_url: str) -> None:
    """SMS to all 200 numbers and e-mail to the 133 addresses, each exactly once; one 550 fails alone."""
    async with open_stage(tmp_path, mqtt_url, staff=0, drill=0) as stage:
        csv, addresses = _contacts()
        (tmp_path / "contacts.csv").write_text(csv, encoding="utf-8")
        smtp = stage.sandbox.fakes["smtp"]
        assert isinstance(smtp, FakeSmtp)
        smtp.refuse(REFUSED)
        message = CrisisMessage(
            status=Status.ACTUAL,
            severity=Severity.SEVERE,
            headline="Code Orange: decontamination at the ED entrance",
            instruction="ED staff to decon stations; others avoid the ambulance bay.",
            audiences=("all-staff",),
            channels=("sms", "email"),
        )
        _, report = await stage.broadcast(message)

        texts = Counter(m["to"] for m in stage.twilio.messages())
        assert texts == Counter({staff_number(i): 1 for i in range(PEOPLE)})
        mails = Counter(r for m in smtp.received for r in m.rcpt_tos)
        assert mails == Counter({a: 1 for a in addresses if a != REFUSED})
        assert len({m.message["Message-ID"] for m in smtp.received}) == len(addresses) - 1

        by_channel = report.channels
        assert by_channel["email"].delivered == len(addresses) - 1
        assert [f.target for f in by_channel["email"].failed] == [REFUSED]
        assert by_channel["sms"].delivered == PEOPLE
        records = await stage.store.deliveries(report.dispatch_id)
        states = Counter((r.delivery.channel, r.state) for r in records)
        assert states == Counter(
            {
                ("sms", DeliveryState.DELIVERED): PEOPLE,
                ("email", DeliveryState.DELIVERED): len(addresses) - 1,
                ("email", DeliveryState.FAILED): 1,
            }
        )
