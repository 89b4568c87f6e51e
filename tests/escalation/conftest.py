"""Escalation fixtures: a controllable clock, staff with supervisors, memory SMS and voice channels.

The ``backend`` fixture (SQLite file and PostgreSQL schema) is the audit contract tests' own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.channels.base import Channel
from crisiscast.config import Secrets, Settings
from crisiscast.contacts import Contact, ContactsLoad
from crisiscast.delivery import Delivery
from crisiscast.dispatch import Dispatcher
from crisiscast.escalation.loop import EscalationLoop
from crisiscast.message import CrisisMessage, Status
from crisiscast.rollcall.poll import Poll
from tests.audit.conftest import backend  # noqa: F401  (the fixture, by name)
from tests.server.helpers import MemoryChannel, make_secrets, make_settings

ANA, BEN, CAL = "+15550100001", "+15550100002", "+15550100003"
SUE = "+15550100009"  # Ana's and Ben's supervisor; Cal has none
STAFF = (ANA, BEN, CAL)
POLL = Poll.model_validate(
    {
        "answers": [
            {"code": "1", "label": {"en": "I am safe"}, "words": ["safe"]},
            {"code": "2", "label": {"en": "I need help"}},
        ],
        "deadline_min": 60,
    }
)
STEPS = [
    {"after_min": 10, "action": "resend_sms"},
    {"after_min": 20, "action": "call"},
    {"after_min": 30, "action": "notify_supervisor"},
]


class Clock:
    """A clock the test moves: ``now()`` starts at the real time and only ``advance`` changes it."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, *, minutes: float) -> None:
        self.at += timedelta(minutes=minutes)


def staff() -> ContactsLoad:
    people = [
        Contact(
            name="Ana", phone=ANA, groups=frozenset({"all-staff"}), language="en", line=2, supervisor=SUE
        ),
        Contact(
            name="Ben", phone=BEN, groups=frozenset({"all-staff"}), language="en", line=3, supervisor=SUE
        ),
        Contact(name="Cal", phone=CAL, groups=frozenset({"all-staff"}), language="en", line=4),
    ]
    return ContactsLoad(contacts=tuple(people), problems=())


def polled_message(**kw: object) -> CrisisMessage:
    return CrisisMessage.model_validate(
        {"status": Status.ACTUAL, "headline": "Fire in Building B: reply 1 if you are safe",
         "poll": POLL.model_dump(), "escalation": STEPS, **kw}
    )  # fmt: skip


@dataclass
class Channels:
    """The memory SMS and voice channels every build made, and what they sent."""

    built: list[MemoryChannel] = field(default_factory=list)

    def build(
        self, _settings: Settings, _secrets: Secrets, message: CrisisMessage
    ) -> tuple[list[Channel], list[tuple[str, str]]]:
        names = message.channels or ("sms", "voice")
        made = [MemoryChannel(channel_name=n, targets=STAFF) for n in names]
        self.built.extend(made)
        return list(made), []

    def sent(self, channel: str) -> list[Delivery]:
        return [d for c in self.built if c.name == channel for d in c.sent]


@dataclass
class World:
    store: AuditStore
    settings: Settings
    secrets: Secrets
    clock: Clock
    channels: Channels

    def loop(self, owner: str = "w1", store: AuditStore | None = None, **kw: object) -> EscalationLoop:
        dispatcher = Dispatcher(store or self.store, backoff_base_s=0.01, backoff_cap_s=0.05)
        return EscalationLoop(
            self.settings, self.secrets, dispatcher, owner=owner, build=self.channels.build,
            now=self.clock.now, **{"contacts": staff, **kw},  # type: ignore[arg-type]
        )  # fmt: skip

    async def send(self, message: CrisisMessage, dispatch_id: str) -> None:
        channels, _ = self.channels.build(
            self.settings, self.secrets, message.model_copy(update={"channels": ("sms",)})
        )
        report = await Dispatcher(self.store).dispatch(
            message, channels, approval={"approver": "test"}, dispatch_id=dispatch_id
        )
        assert report.ok
        self.clock.at = datetime.now(UTC)  # minute 0 of the schedule (a hair after its plan)

    async def kinds(self, dispatch_id: str, kind: EventKind) -> list[dict[str, object]]:
        return [dict(e.event.data) async for e in self.store.events(dispatch_id) if e.event.kind is kind]


def numbers(deliveries: Sequence[Delivery]) -> list[str]:
    return sorted(d.target for d in deliveries)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    from crisiscast.audit.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        yield World(store, make_settings(tmp_path), make_secrets(), Clock(), Channels())
    finally:
        await store.close()
