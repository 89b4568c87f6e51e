"""A resume's plan without a record per delivery, and channels that read their contacts only
when a resume has to render: the same deliveries and states as before, less held at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.stored_plan import stored_plan
from crisiscast.audit.views import ChainViews
from crisiscast.channels.base import RenderContext
from crisiscast.channels.registry import build_channels
from crisiscast.channels.sms.channel import SmsChannel
from crisiscast.channels.staff import contacts_on_first_use
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher, unfinished_dispatches
from crisiscast.dispatch.chunks import PlanWriter
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.dispatch.plan import Plan, new_dispatch_id, render_all
from crisiscast.dispatch.resume import resume_unfinished
from crisiscast.message import CrisisMessage, Status
from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS, FakeTwilio
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore

SID = SANDBOX_CREDENTIALS["account_sid"]
TOKEN = "sandbox-token-for-resume-tests"
STAFF = 7


def _ev(kind: EventKind, dispatch_id: str, key: str, **data: object) -> AuditEvent:
    return AuditEvent(kind, dispatch_id, data, delivery_key=key)


async def test_the_stored_plan_is_the_replayed_records_of_every_state(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """Delivered, failed, in doubt, pending after an attempt, never tried, and a thread: the
    resume's plan holds the same deliveries in plan order and the same stored state of each."""
    sms = ScriptChannel(channel_name="sms", targets=("a", "b", "c", "d", "e"))
    thread = ScriptChannel(channel_name="twitter", parts=2)
    plan = await dispatcher.plan(message(), [sms, thread], approval=APPROVAL)
    did = plan.dispatch_id
    a, b, c, d, _ = (x.key for x in plan.deliveries["sms"])
    p0, _ = (x.key for x in plan.deliveries["twitter"])
    await store.append(
        [
            _ev(EventKind.ATTEMPT_STARTED, did, a, attempt=1),
            _ev(EventKind.ATTEMPT_SUCCEEDED, did, a, attempt=1, provider_id="SM-a", latency_ms=2.0),
            _ev(EventKind.ATTEMPT_STARTED, did, b, attempt=1),
            _ev(EventKind.ATTEMPT_FAILED, did, b, attempt=1, code="21211", reason="not a number"),
            _ev(EventKind.DELIVERY_FAILED, did, b, code="21211", reason="not a number"),
            _ev(EventKind.ATTEMPT_STARTED, did, c, attempt=1),
            _ev(EventKind.ATTEMPT_STARTED, did, d, attempt=1),
            _ev(EventKind.ATTEMPT_FAILED, did, d, attempt=1, code="20500", reason="busy"),
            _ev(EventKind.ATTEMPT_STARTED, did, p0, attempt=1),
            _ev(EventKind.ATTEMPT_SUCCEEDED, did, p0, attempt=1, provider_id="tw-0", latency_ms=1.0),
        ]
    )
    replay = await ChainViews(store).replay(did)
    records = replay.delivery_records(did)
    stored = stored_plan(replay, did)

    assert dict(stored.states) == {r.delivery.key: r for r in records}
    by_channel: dict[str, list[object]] = {}
    for r in records:
        by_channel.setdefault(r.delivery.channel, []).append(r.delivery)
    assert stored.deliveries == by_channel
    states = {key: record.state for key, record in stored.states.items()}
    assert [states[k] for k in (a, b, c, d)] == [
        DeliveryState.DELIVERED,
        DeliveryState.FAILED,
        DeliveryState.IN_DOUBT,
        DeliveryState.PENDING,
    ]
    assert stored.states[d].attempts == 1 and stored.states[p0].provider_id == "tw-0"
    payloads = {id(x.payload) for x in stored.deliveries["sms"]}
    assert len(payloads) == 1  # one parsed payload for the five texts that share it


# -- the staff channels on resume: contacts read only when the resume renders ----------------------
@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(accounts={SID: TOKEN}, refuse={})
    await fake.start()
    yield fake
    await fake.stop()


def _settings(tmp_path: Path, twilio: FakeTwilio) -> Settings:
    contacts = tmp_path / "contacts.csv"
    rows = "".join(f"Staff {i},+1617555{1000 + i},staff,en\n" for i in range(STAFF))
    contacts.write_text("name,phone,groups,language\n" + rows, encoding="utf-8")
    return Settings.model_validate(
        {
            "base_dir": str(tmp_path),
            "audiences": {"all-staff": ["staff"], "exercise": ["drill"]},
            "channels": {
                "sms": {
                    "api_base_url": twilio.base_url,
                    "account_sid": SID,
                    "messaging_service_sid": SANDBOX_CREDENTIALS["messaging_service_sid"],
                    "contacts": str(contacts),
                }
            },
        }
    )


def _texted(twilio: FakeTwilio) -> list[str]:
    """The numbers the fake was asked to text, in order, one entry per request."""
    return sorted(dict(parse_qsl(r.body))["To"] for r in twilio.requests)


def _alert() -> CrisisMessage:
    return CrisisMessage(
        status=Status.ACTUAL,
        headline="Code Red: fire in Building B",
        instruction="Avoid Building B.",
        audiences=("all-staff",),
        channels=("sms",),
    )


async def _planned(
    settings: Settings, secrets: Secrets, store: RecordingStore, *, first_chunk_only: bool
) -> str:
    """The alert's plan written as a crash before the first text leaves it (or only its first
    chunk of 3, as a crash between the chunks of the plan leaves it)."""
    channels, skipped = build_channels(settings, secrets, _alert())
    assert skipped == []
    ctx = RenderContext(dispatch_id=new_dispatch_id())
    by_name, deliveries, failed = render_all(_alert(), channels, ctx)
    plan = Plan(ctx.dispatch_id, _alert(), by_name, deliveries, approval=dict(APPROVAL), failed=failed)
    writer = PlanWriter(store, plan, 3, render=ctx)
    await writer.write_first()
    if not first_chunk_only:
        await writer.write_rest()
    return plan.dispatch_id


async def test_a_resume_of_a_whole_plan_needs_no_contacts_file(
    tmp_path: Path, twilio: FakeTwilio, store: RecordingStore
) -> None:
    """The approved plan is in the audit: a resume sends it even though the contacts file has
    since become unreadable as contacts (before, the SMS channel was refused and nothing sent)."""
    settings, secrets = _settings(tmp_path, twilio), Secrets.model_validate({"twilio_auth_token": TOKEN})
    did = await _planned(settings, secrets, store, first_chunk_only=False)
    (tmp_path / "contacts.csv").write_text("this is not,a contacts file\n", encoding="utf-8")

    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    (resumed,) = await resume_unfinished(settings, secrets, dispatcher, dispatch_id=did)

    assert resumed.skipped == {}
    assert resumed.report.channels["sms"].delivered == STAFF
    assert _texted(twilio) == [f"+1617555{1000 + i}" for i in range(STAFF)]
    assert await unfinished_dispatches(store) == []


async def test_a_resume_that_completes_a_cut_short_plan_reads_the_contacts(
    tmp_path: Path, twilio: FakeTwilio, store: RecordingStore
) -> None:
    """Only 3 of 7 texts were planned before the crash: the resume reads the contacts to plan
    the other 4, and everyone gets exactly one text."""
    settings, secrets = _settings(tmp_path, twilio), Secrets.model_validate({"twilio_auth_token": TOKEN})
    did = await _planned(settings, secrets, store, first_chunk_only=True)
    assert len(await store.deliveries(did)) == 3

    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=3)
    (resumed,) = await resume_unfinished(settings, secrets, dispatcher, dispatch_id=did)

    assert resumed.report.channels["sms"].delivered == STAFF
    assert _texted(twilio) == [f"+1617555{1000 + i}" for i in range(STAFF)]
    record = await store.dispatch(did)
    assert record is not None and record.summary["plan_complete"] is True


async def test_a_cut_short_plan_whose_contacts_file_is_now_unreadable_sends_what_was_planned(
    tmp_path: Path, twilio: FakeTwilio, store: RecordingStore
) -> None:
    """The contacts file was damaged after the crash: the 3 planned texts go out, the other 4
    are not guessed, and the report says why in words that name the contacts file."""
    settings, secrets = _settings(tmp_path, twilio), Secrets.model_validate({"twilio_auth_token": TOKEN})
    did = await _planned(settings, secrets, store, first_chunk_only=True)
    (tmp_path / "contacts.csv").write_text("this is not,a contacts file\n", encoding="utf-8")

    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=3)
    (resumed,) = await resume_unfinished(settings, secrets, dispatcher, dispatch_id=did)

    sms = resumed.report.channels["sms"]
    assert sms.delivered == 3 and len(_texted(twilio)) == 3
    assert "4 sms recipient(s) not sent" in sms.note and "cannot render the message now" in sms.note
    assert "contacts" in sms.note and f"crisiscast resume {did}" in sms.note
    record = await store.dispatch(did)
    assert record is not None and record.summary["plan_complete"] is False


def test_channels_built_for_a_resume_leave_the_contacts_unread_until_asked(
    tmp_path: Path, twilio: FakeTwilio
) -> None:
    """Built within ``contacts_on_first_use``, the SMS channel still checks that the file exists;
    it reads the file when it first needs the contacts (and outside, when it is built)."""
    settings, secrets = _settings(tmp_path, twilio), Secrets.model_validate({"twilio_auth_token": TOKEN})
    with contacts_on_first_use():
        (deferred,), _ = build_channels(settings, secrets, _alert())
    (eager,), _ = build_channels(settings, secrets, _alert())
    assert isinstance(deferred, SmsChannel) and isinstance(eager, SmsChannel)
    assert deferred._contacts is None and eager._contacts is not None
    assert len(deferred.contacts.contacts) == STAFF

    (tmp_path / "contacts.csv").unlink()
    with contacts_on_first_use():
        channels, skipped = build_channels(settings, secrets, _alert())
    assert channels == [] and "does not exist" in skipped[0][1]
