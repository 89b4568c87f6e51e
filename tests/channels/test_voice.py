"""The voice channel (Twilio Calls API, inline TwiML) against the Twilio fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from defusedxml import ElementTree
from twilio.request_validator import RequestValidator

from crisiscast.audit.events import EventKind
from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.voice import SPEC
from crisiscast.channels.voice.channel import GATHER_PATH, VoiceChannel, build, number_to_call
from crisiscast.channels.voice.preview import preview_voice, start_duration
from crisiscast.channels.voice.speech import speak, spoken_marker, voice_for
from crisiscast.config import Secrets, Settings
from crisiscast.contacts import Contact
from crisiscast.delivery import Delivery
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    Permanent,
    PolicyError,
    RateLimited,
    Transient,
    Unanswered,
)
from crisiscast.message import CrisisMessage, MessageText, MsgType, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS, SANDBOX_FROM_NUMBER, FakeTwilio, twilio_error
from tests.channels.contract import ErrorCase, make_canaries, run_contract_suite

SID = SANDBOX_CREDENTIALS["account_sid"]
FROM = SANDBOX_FROM_NUMBER
TOKEN_VAR = "CRISISCAST_TWILIO_AUTH_TOKEN"
CONTACTS = """name,phone,groups,language
Ana Ruiz,+1 617 555 0101,staff;icu,es
Ben Okafor,(617) 555-0102,staff,en
Dee Drill,+1 617 555 0190,drill-team,en
Eva Both,+1 617 555 0103,staff;drill-team,es
Broken,617-555,staff,en
"""
REPO = Path(__file__).resolve().parents[2]
_numbers = count(3000)


def _number() -> str:
    return f"+1617555{next(_numbers):04d}"


@pytest.fixture
def canary() -> str:
    return make_canaries(TOKEN_VAR)[TOKEN_VAR]


@pytest.fixture
async def fake(canary: str) -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(accounts={SID: canary}, refuse={})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def contacts_file(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def settings_for(url: str, contacts: Path | str, **voice: Any) -> Settings:
    server = voice.pop("server", {})
    section = {
        "enabled": True,
        "api_base_url": url,
        "account_sid": SID,
        "from_number": FROM,
        "contacts": str(contacts),
        "poll_interval_s": 0.01,
        "caller_name": "Example Hospital",
    }
    return Settings.model_validate({"channels": {"voice": section | voice}, "server": server})


def secrets_with(token: str | None) -> Secrets:
    return Secrets.model_validate({"twilio_auth_token": token} if token else {})


def message(**kw: Any) -> CrisisMessage:
    base: dict[str, Any] = {
        "status": Status.ACTUAL,
        "headline": "Code Red: fire in Building B at 14:30",
        "instruction": "Avoid Building B. Questions: call 617-555-0100.",
        "web": "https://www.example-hospital.org/alerts/42?utm_source=sms",
        "translations": {
            "es": MessageText(headline="Código rojo: incendio en el edificio B", instruction="Evite B.")
        },
        "audiences": ("all-staff",),
    }
    return CrisisMessage(**(base | kw))


@pytest.fixture
async def channel(fake: FakeTwilio, canary: str, contacts_file: Path) -> AsyncIterator[VoiceChannel]:
    ch = build(
        settings_for(fake.base_url, contacts_file, request_timeout_s=2.0),
        secrets_with(canary),
        exercise=False,
    )
    await ch.start()
    yield ch
    await ch.aclose()


def call_for(channel: VoiceChannel, target: str | None = None, **payload: Any) -> Delivery:
    """A fresh delivery as render makes it (the English script), to a new number."""
    [template, *_] = [
        d for d in channel.render(message(), RenderContext(dispatch_id="d1")) if d.language == "en"
    ]
    merged = dict(template.payload) | payload
    return Delivery("d1", "voice", target or _number(), 0, template.body, "en", merged)


def form_of(fake: FakeTwilio, index: int = -1) -> dict[str, list[str]]:
    return parse_qs(fake.requests[index].body, keep_blank_values=True)


def says(twiml: str) -> list[tuple[str, str, str]]:
    """(voice, language, text) of every <Say>, in document order."""
    root = ElementTree.fromstring(twiml)
    return [(s.get("voice", ""), s.get("language", ""), s.text or "") for s in root.iter("Say")]


# -- the shared contract --------------------------------------------------------------------
async def test_contract_suite(channel: VoiceChannel, fake: FakeTwilio, canary: str) -> None:
    """A call, then every error class with Twilio's codes, Retry-After, and no secret anywhere."""

    async def provider_goes_down() -> None:
        await fake.stop()

    geo = Fault(status=400, body=twilio_error(21215, "Account not authorized"), path_contains="/Calls.json")
    cases = [
        ErrorCase("429", RateLimited, code="20429", status=429, retry_after_s=7, fault=_rate_limited(7)),
        ErrorCase(
            "503",
            Ambiguous,
            code="20500",
            status=503,
            reason_contains="call may have been placed",
            fault=Fault(status=503),
        ),
        ErrorCase(
            "geo permission", Permanent, code="21215", status=400, reason_contains="geographic", fault=geo
        ),
        ErrorCase("dropped after accept", Ambiguous, fault=Fault(status=0, drop=True, after_accept=True)),
        ErrorCase("connection refused", Transient, arrange=provider_goes_down),
    ]
    await run_contract_suite(
        channel, fake=fake, make_delivery=lambda: call_for(channel), cases=cases, canaries=[canary]
    )


def _rate_limited(retry_after_s: int) -> Fault:
    body = {"code": 20429, "message": "Too Many Requests", "more_info": "", "status": 429}
    return Fault(
        status=429, body=body, headers={"Retry-After": str(retry_after_s)}, path_contains="/Calls.json"
    )


# -- the request and its TwiML ----------------------------------------------------------------
async def test_call_request_form_with_callbacks(fake: FakeTwilio, canary: str, contacts_file: Path) -> None:
    """One POST to Calls.json with To, From, inline Twiml, Timeout, answering-machine detection and
    signed-callback URLs carrying the delivery key; then GETs of the call until it is answered."""
    settings = settings_for(fake.base_url, contacts_file, server={"public_url": "https://cc.example.org"})
    ch = build(settings, secrets_with(canary), exercise=False)
    try:
        delivery = call_for(ch, "+16175550102")
        receipt = await ch.send(delivery, None)
    finally:
        await ch.aclose()
    assert receipt.provider_id == fake.calls(SID)[0]["sid"] and receipt.status == "completed"
    create = fake.requests[0]
    assert (create.method, create.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Calls.json")
    form = form_of(fake, 0)
    key = "d1:voice:%2B16175550102:0"
    assert form["To"] == ["+16175550102"] and form["From"] == [FROM]
    assert form["Timeout"] == ["30"] and form["MachineDetection"] == ["DetectMessageEnd"]
    assert form["AsyncAmd"] == ["true"]
    assert form["AsyncAmdStatusCallback"] == [f"https://cc.example.org/v1/twilio/voice/amd?key={key}"]
    assert form["StatusCallback"] == [f"https://cc.example.org/v1/twilio/voice/status?key={key}"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert f"{GATHER_PATH}?key={key}" in form["Twiml"][0]
    assert all(r.method == "GET" for r in fake.requests[1:])  # then asked how the call went


async def test_twiml_says_the_message_twice_in_the_contacts_language(channel: VoiceChannel) -> None:
    """Spanish contacts get an es-US Polly voice, the message twice, "press 1" in a <Gather>,
    and (for an Exercise) the marker first and last; no link is read out letter by letter."""
    settings = channel.settings.model_copy(
        update={"server": channel.settings.server.model_copy(update={"public_url": "https://cc.example.org"})}
    )
    ch = VoiceChannel(settings, _token("t0ken-123456"), contacts=channel.contacts)
    drill = message(status=Status.EXERCISE)
    deliveries = ch.render(drill, RenderContext(dispatch_id="d7"))
    spanish = next(d for d in deliveries if d.language == "es")
    twiml = ch.twiml_for(spanish)
    spoken = says(twiml)
    texts = [t for _, _, t in spoken]
    assert {(v, lang) for v, lang, _ in spoken} == {("Polly.Lupe-Neural", "es-US")}
    assert texts[0].startswith("Exercise, exercise, exercise.")
    assert texts[-1].endswith("Exercise, exercise, exercise.")
    message_text = texts[1]
    assert message_text.startswith("Código rojo") and texts.count(message_text) == 2
    assert not any("https://" in t or "utm_source" in t or "/alerts/42" in t for t in texts)
    assert "El sitio web example-hospital punto org." in message_text
    root = ElementTree.fromstring(twiml)
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert (
        gather.get("action") == "https://cc.example.org/v1/twilio/voice/gather?key=d7:voice:%2B16175550103:0"
    )
    assert "Presione 1" in (gather.findtext("Say") or "")
    assert spanish.body.splitlines()[0] == texts[0]  # the audit keeps the exact transcript


def _token(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def test_english_script_speaks_times_numbers_and_links_naturally(channel: VoiceChannel) -> None:
    """English: 14:30 is "2:30 PM", a phone number is read digit by digit, the link is its site."""
    [english, *_] = [
        d for d in channel.render(message(), RenderContext(dispatch_id="d1")) if d.language == "en"
    ]
    [opening, said, *_] = english.body.splitlines()
    assert opening == "This is an urgent message from Example Hospital."  # Actual: no marker
    assert "Building B at 2:30 PM." in said
    assert "call 6 1 7, 5 5 5, 0 1 0 0." in said
    assert "The website example-hospital dot org." in said
    assert voice_for("en").language == "en-US" and voice_for("pt-BR").language == "pt-BR"


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        ("Shelter at 12:00 until 00:00", "en", "Shelter at noon until midnight."),
        ("Meet at 9:05 in room #4 & wait", "en", "Meet at 9:05 AM in room number 4 and wait."),
        ("Reunión a las 10:00 o 14:30", "es", "Reunión a las 10 en punto o 14 y 30."),
        ("See www.example.org/a/b.", "en", "See the website example dot org."),
        ("Call (617) 555-0100 now", "en", "Call 6 1 7, 5 5 5, 0 1 0 0 now."),
    ],
)
def test_speak(text: str, language: str, spoken: str) -> None:
    """Times, links, phone numbers and symbols are turned into words a voice reads naturally."""
    assert speak(text, language) == spoken


def test_spoken_marker() -> None:
    """The marker is said as words with pauses; an Actual message has none."""
    assert spoken_marker("EXERCISE EXERCISE EXERCISE") == "Exercise, exercise, exercise."
    assert spoken_marker("") == ""


def test_script_too_long_drops_the_description_then_refuses(channel: VoiceChannel) -> None:
    """Over Twilio's 4,000-character TwiML the description goes first; a headline and
    instruction that alone are too long are refused with a plain sentence."""
    long = message(description="Details. " * 250, translations={})
    [first, *_] = channel.render(long, RenderContext(dispatch_id="d1"))
    assert first.payload["script"]["dropped"] == ["description"]
    assert "Details." not in first.body
    with pytest.raises(PolicyError, match="TwiML"):
        channel.render(
            message(instruction="Avoid B. " * 200, translations={}), RenderContext(dispatch_id="d1")
        )


# -- outcomes, redials, ambiguity -----------------------------------------------------------------
async def test_busy_and_no_answer_are_unanswered_then_permanent(
    channel: VoiceChannel, fake: FakeTwilio
) -> None:
    """Busy and no-answer are Unanswered with the configured wait; after redial_attempts (2)
    redials the third unanswered call is Permanent; a failed call is Permanent at once."""
    delivery = call_for(channel)
    fake.call_outcomes[delivery.target] = ["busy", "no-answer", "busy"]
    for status in ("busy", "no-answer"):
        with pytest.raises(Unanswered) as info:
            await channel.send(delivery, None)
        assert (info.value.code, info.value.retry_after_s) == (status, 120.0)
    with pytest.raises(Permanent, match="every one of 3 calls") as given_up:
        await channel.send(delivery, None)
    assert given_up.value.code == "busy"
    failed = call_for(channel)
    fake.call_outcomes[failed.target] = ["failed"]
    with pytest.raises(Permanent, match="could not place the call"):
        await channel.send(failed, None)


async def test_a_call_that_never_resolves_is_ambiguous_and_reconciled(
    fake: FakeTwilio, canary: str, contacts_file: Path
) -> None:
    """A call still ringing when send stops waiting is Ambiguous; reconcile then finds it."""
    ch = build(
        settings_for(fake.base_url, contacts_file, max_call_wait_s=0.05), secrets_with(canary), exercise=False
    )
    try:
        delivery = call_for(ch)
        fake.call_outcomes[delivery.target] = ["ringing"]
        with pytest.raises(Ambiguous, match="outcome was not known"):
            await ch.send(delivery, None)
        found = await ch.reconcile(delivery)
    finally:
        await ch.aclose()
    assert found is not None and found.provider_id == fake.calls(SID)[0]["sid"] and found.status == "ringing"


async def test_dispatch_redials_busy_numbers_and_gives_up_as_configured(
    fake: FakeTwilio, canary: str, tmp_path: Path
) -> None:
    """Through the dispatcher: a busy-then-answered number is delivered on the second call; a
    number busy three times is called exactly 1 + redial_attempts times, then failed; the
    audit records each unanswered attempt; a busy line never trips the provider's circuit."""
    from crisiscast.audit.open import open_store
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry

    numbers = [f"+1617555{i:04d}" for i in range(4000, 4012)]
    path = tmp_path / "contacts.csv"
    path.write_text("name,phone,groups\n" + "".join(f"P{i},{n},staff\n" for i, n in enumerate(numbers)))
    for n in numbers[:11]:
        fake.call_outcomes[n] = ["busy", "human"]
    fake.call_outcomes[numbers[11]] = ["busy", "no-answer", "busy", "human"]
    settings = settings_for(
        fake.base_url, path, redial_wait_s=0, max_requests_per_s=1000, burst=20, max_concurrency=20
    )
    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        registry = LimiterRegistry()
        dispatcher = Dispatcher(store, limiters=registry, backoff_base_s=0.001, backoff_cap_s=0.005)
        report = await dispatcher.dispatch(
            message(), [build(settings, secrets_with(canary), exercise=False)], approval={"by": ["a", "b"]}
        )
        events = [e.event async for e in store.events(report.dispatch_id)]
    finally:
        await store.close()
    voice = report.channels["voice"]
    assert voice.delivered == 11
    assert [(f.target, f.code) for f in voice.failed] == [(numbers[11], "busy")]
    calls_to = [c["to"] for c in fake.calls(SID)]
    assert calls_to.count(numbers[11]) == 3 and all(calls_to.count(n) == 2 for n in numbers[:11])
    unanswered = [e for e in events if e.kind == EventKind.ATTEMPT_FAILED and e.data["error"] == "unanswered"]
    assert len(unanswered) == 11 + 2


async def test_reconcile_finds_a_call_placed_before_the_connection_dropped(
    channel: VoiceChannel, fake: FakeTwilio
) -> None:
    """After an Ambiguous drop the fake has the call; reconcile lists calls To the number
    since the render and finds it; a call that was busy does not count."""
    delivery = call_for(channel)
    fake.faults.scripted.append(Fault(status=0, drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    [stored] = fake.calls(SID)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == stored["sid"]
    listing = fake.requests[-1]
    assert listing.method == "GET" and listing.path.endswith("/Calls.json")
    assert listing.query["To"] == delivery.target and "StartTime>" in listing.query
    busy = call_for(channel)
    fake.call_outcomes[busy.target] = ["busy"]
    with pytest.raises(Unanswered):
        await channel.send(busy, None)
    assert await channel.reconcile(busy) is None


async def test_reconcile_ignores_calls_from_before_the_render(channel: VoiceChannel) -> None:
    """A call to the same number placed before this delivery was rendered is not taken for it."""
    old = call_for(channel)
    await channel.send(old, None)
    later = call_for(channel, old.target, rendered_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert await channel.reconcile(later) is None


async def test_reconcile_list_failures(channel: VoiceChannel, fake: FakeTwilio) -> None:
    """A call list failing now (503) is Transient; refused (401) is CannotReconcile."""
    fake.faults.scripted.append(Fault(status=503, path_contains="Calls.json"))
    with pytest.raises(Transient, match="call list"):
        await channel.reconcile(call_for(channel))
    body = {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401}
    fake.faults.scripted.append(Fault(status=401, body=body, path_contains="Calls.json"))
    with pytest.raises(CannotReconcile, match="call list"):
        await channel.reconcile(call_for(channel))


async def test_expired_message_places_no_call(channel: VoiceChannel, fake: FakeTwilio) -> None:
    """A message past its expiry is Permanent without a request."""
    with pytest.raises(Permanent, match="expired"):
        await channel.send(
            call_for(channel, expires=(datetime.now(UTC) - timedelta(seconds=5)).isoformat()), None
        )
    assert fake.requests == []


async def test_an_unlisted_refusal_speaks_of_the_call(channel: VoiceChannel, fake: FakeTwilio) -> None:
    """A Twilio code without a sentence of its own is still a plain sentence about the call."""
    fault = Fault(status=400, body=twilio_error(21999, "Something new"), path_contains="/Calls.json")
    fake.faults.scripted.append(fault)
    with pytest.raises(Permanent) as info:
        await channel.send(call_for(channel), None)
    assert str(info.value) == "Twilio refused the call (HTTP 400, error 21999)"


async def test_fake_refuses_a_caller_that_is_not_the_accounts(canary: str, contacts_file: Path) -> None:
    """The fake enforces what Twilio does: a From that is not the account's number is 21210."""
    fake = FakeTwilio(accounts={SID: canary}, caller_ids={"+15005550007"})
    await fake.start()
    ch = build(settings_for(fake.base_url, contacts_file), secrets_with(canary), exercise=False)
    try:
        with pytest.raises(Permanent, match="from_number") as info:
            await ch.send(call_for(ch), None)
    finally:
        await ch.aclose()
        await fake.stop()
    assert info.value.code == "21210"


# -- recipients ------------------------------------------------------------------------------
def test_render_one_call_per_number(channel: VoiceChannel) -> None:
    """all-staff reaches each staff number once in its language; the bad row is reported."""
    deliveries = channel.render(message(), RenderContext(dispatch_id="d9"))
    assert [(d.target, d.language) for d in deliveries] == [
        ("+16175550101", "es"),
        ("+16175550102", "en"),
        ("+16175550103", "es"),
    ]
    assert deliveries[0].key == "d9:voice:+16175550101:0"
    assert [p.line for p in channel.contact_problems] == [6]


def test_exercise_calls_only_exercise_audiences(channel: VoiceChannel) -> None:
    """A drill naming all-staff still calls only the drill team."""
    deliveries = channel.render(message(status=Status.EXERCISE), RenderContext(dispatch_id="d9"))
    assert [d.target for d in deliveries] == ["+16175550190", "+16175550103"]


def test_follow_up_calls_only_the_numbers_the_original_reached(channel: VoiceChannel) -> None:
    """An Update calls exactly the numbers the original reached, incl. one no longer listed,
    and the spec's follow-up plan restricts to those numbers."""
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.delivery import DeliveryState

    update = message(msg_type=MsgType.UPDATE, references=("orig",))
    only = frozenset({"+16175550102", "+16175550777"})
    deliveries = channel.render(update, RenderContext(dispatch_id="d9", only_targets={"voice": only}))
    assert [(d.target, d.language) for d in deliveries] == [("+16175550102", "en"), ("+16175550777", "en")]
    now = datetime.now(UTC)
    reached = [
        DeliveryRecord(Delivery("o", "voice", n, 0, "x"), DeliveryState.DELIVERED, 1, "CA1", None, None, now)
        for n in sorted(only)
    ]
    assert SPEC.follow_up is not None
    assert SPEC.follow_up([reached]).only_targets == only


def test_a_separate_voice_number_is_called_instead_of_the_phone() -> None:
    """When a contact has a voice number, that is the number called."""

    plain = Contact("A", "+16175550101", frozenset({"staff"}), "en", 2)
    landline = Contact("B", "+16175550102", frozenset({"staff"}), "en", 3, voice_number="+16175550999")
    assert number_to_call(plain) == "+16175550101"
    assert number_to_call(landline) == "+16175550999"


# -- preview ---------------------------------------------------------------------------------
def test_preview_says_how_long_500_calls_take_to_start(tmp_path: Path) -> None:
    """At Twilio's 1 call/s, 500 calls take 8 min 20 s to start, and the preview says so."""
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,phone,groups\n" + "".join(f"P{i},+1617555{i:04d},staff\n" for i in range(5000, 5500))
    )
    settings = settings_for("http://127.0.0.1:9", path)
    preview = preview_voice(message(), settings, SPEC.config(settings))
    assert preview.recipients == 500
    assert "500 calls at 1 call/s: the last starts in about 8 min 20 s" in (preview.summary() or "")
    [panel] = preview.panels()
    assert "said twice" in panel.measure and "[voicemail]" in panel.parts[0]
    assert preview.to_json()["start_time_s"] == 500.0
    assert start_duration(3725) == "1 h 2 min"


# -- build -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "token", "words"),
    [
        ({}, None, TOKEN_VAR),
        ({"from_number": None}, "t0ken-123456", "from_number"),
        ({"account_sid": ""}, "t0ken-123456", "account_sid"),
        ({"enabled": False}, "t0ken-123456", "disabled"),
    ],
)
def test_build_refuses_with_a_plain_reason(
    contacts_file: Path, overrides: dict[str, Any], token: str | None, words: str
) -> None:
    """Each configuration gap makes the channel unavailable with a sentence naming it."""
    settings = settings_for("http://127.0.0.1:9", contacts_file, **overrides)
    with pytest.raises(ChannelUnavailable, match=words):
        build(settings, secrets_with(token), exercise=False)


# -- callbacks on `crisiscast serve` ----------------------------------------------------------
@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_callbacks_reach_the_server_signed_and_are_recorded(
    fake: FakeTwilio, canary: str, tmp_path: Path, free_port: int
) -> None:
    """End to end: each call's signed status callbacks, the key press and the answering-machine
    result reach `crisiscast serve` and land in the audit per call; the person who pressed 1
    hears thanks and the marker; a machine gets the short voicemail version."""
    from crisiscast.audit.open import open_store
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.server.app import build_app

    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    fake.call_outcomes["+16175550103"] = ["machine"]
    settings = settings_for(fake.base_url, path, server={"public_url": f"http://127.0.0.1:{free_port}"})
    settings = settings.model_copy(update={"templates_dir": str(REPO / "config" / "templates")})
    secrets = secrets_with(canary)
    store = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    await store.open()
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    runner = web.AppRunner(build_app(settings, secrets, store, dispatcher), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", free_port).start()
    try:
        drill = message(status=Status.EXERCISE, audiences=("exercise",))
        report = await dispatcher.dispatch(
            drill, [build(settings, secrets, exercise=True)], approval={"by": ["a"]}
        )
        await fake.callbacks_settled()
        events = [e.event async for e in store.events(report.dispatch_id)]
    finally:
        await runner.cleanup()
        await store.close()
    assert report.channels["voice"].delivered == 2
    assert {c.status for c in fake.callbacks} <= {200, 204}, [(c.url, c.status) for c in fake.callbacks]
    recorded = {(e.delivery_key, e.data["status"]) for e in events if e.kind == EventKind.RECEIPT_STATUS}
    person = f"{report.dispatch_id}:voice:+16175550190:0"
    machine = f"{report.dispatch_id}:voice:+16175550103:0"
    progress = {"initiated", "ringing", "in-progress", "completed", "answered_by"}
    assert recorded == {(person, s) for s in {*progress, "confirmed"}} | {
        (machine, s) for s in {*progress, "voicemail"}
    }
    [thanks] = [c for c in fake.callbacks if "/gather" in c.url]
    assert [t for _, _, t in says(thanks.answer)] == [
        "Thank you. Your confirmation was recorded. Exercise, exercise, exercise."
    ]
    machine_call = next(c for c in fake.calls(SID) if c["to"] == "+16175550103")
    [_, voicemail] = machine_call["_twiml"]
    [(_, _, left)] = says(voicemail)
    assert left.startswith("Exercise, exercise, exercise.") and left.endswith("Exercise, exercise, exercise.")
    assert "Los detalles también se enviaron por mensaje de texto." in left


async def test_unsigned_or_forged_callbacks_are_refused(
    canary: str, tmp_path: Path, contacts_file: Path, free_port: int
) -> None:
    """A key press without a signature, or signed with another token, is refused (403) and
    nothing is recorded; the same form signed with the account's token is recorded."""
    from crisiscast.audit.open import open_store
    from crisiscast.server.app import build_app

    public = f"http://127.0.0.1:{free_port}"
    settings = settings_for("http://127.0.0.1:9", contacts_file, server={"public_url": public})
    store = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    await store.open()
    runner = web.AppRunner(build_app(settings, secrets_with(canary), store, _NoDispatcher()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", free_port).start()
    url = f"{public}{GATHER_PATH}?key=d5:voice:%2B16175550102:0"
    form = {"CallSid": "CA" + "1" * 32, "Digits": "1", "AccountSid": SID}
    try:
        async with aiohttp.ClientSession() as session:
            answers = []
            for token in (None, "another-token-123456", canary):
                headers = (
                    {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}
                    if token
                    else {}
                )
                async with session.post(url, data=form, headers=headers) as resp:
                    answers.append(resp.status)
        events = [e.event async for e in store.events("d5")]
    finally:
        await runner.cleanup()
        await store.close()
    assert answers == [403, 403, 200]
    assert [(e.kind, e.data["status"], e.delivery_key) for e in events] == [
        (EventKind.RECEIPT_STATUS, "confirmed", "d5:voice:+16175550102:0")
    ]


class _NoDispatcher:
    """The server needs a dispatcher; these tests never dispatch through it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the dispatcher was used ({name})")
