"""The SMS channel (twilio SDK async client) against the Twilio fake over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import aiohttp
import pytest
import structlog
import structlog.testing
from aiohttp import web
from multidict import CIMultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.request_validator import RequestValidator

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.sms.channel import STATUS_CALLBACK_PATH, SmsChannel, build
from crisiscast.channels.sms.twilio import CapturedResponse, translate_error
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    DeliveryError,
    Permanent,
    PolicyError,
    RateLimited,
    Transient,
)
from crisiscast.message import CrisisMessage, MessageText, MsgType, Status
from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.twilio import (
    SANDBOX_CREDENTIALS,
    FakeTwilio,
    permanent_fault,
    rate_limited_fault,
    sandbox_env,
)
from tests.channels.contract import (
    ErrorCase,
    assert_classified,
    make_canaries,
    run_contract_suite,
    watch_for_leaks,
)

SID = SANDBOX_CREDENTIALS["account_sid"]
MG = SANDBOX_CREDENTIALS["messaging_service_sid"]
TOKEN_VAR = "CRISISCAST_TWILIO_AUTH_TOKEN"
CONTACTS = """name,phone,groups,language
Ana Ruiz,+1 617 555 0101,staff;icu,es
Ben Okafor,(617) 555-0102,staff,en
Ana twice,+16175550101,staff,en
Dee Drill,+1 617 555 0190,drill-team,en
Eva Both,+1 617 555 0103,staff;drill-team,es
Broken,617-555,staff,en
"""
REPO = Path(__file__).resolve().parents[2]
_numbers = count(1000)


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


def settings_for(url: str, contacts: Path | str = "config/contacts.csv", **sms: Any) -> Settings:
    section = {
        "api_base_url": url,
        "account_sid": SID,
        "messaging_service_sid": MG,
        "contacts": str(contacts),
    }
    server = sms.pop("server", {})
    return Settings.model_validate({"channels": {"sms": section | sms}, "server": server})


def secrets_with(token: str | None) -> Secrets:
    return Secrets.model_validate({"twilio_auth_token": token} if token else {})


@pytest.fixture
async def channel(fake: FakeTwilio, canary: str, contacts_file: Path) -> AsyncIterator[SmsChannel]:
    ch = build(
        settings_for(fake.base_url, contacts_file, request_timeout_s=2.0),
        secrets_with(canary),
        exercise=False,
    )
    await ch.start()
    yield ch
    await ch.aclose()


def sms(
    target: str | None = None, body: str = "Code Red, Building B. Avoid the area.", **payload: Any
) -> Delivery:
    payload.setdefault("rendered_at", datetime.now(UTC).isoformat())
    return Delivery("d1", "sms", target or _number(), 0, body, payload=payload)


def form_of(fake: FakeTwilio, index: int = -1) -> dict[str, str]:
    return dict(parse_qsl(fake.requests[index].body, keep_blank_values=True))


def message(**kw: Any) -> CrisisMessage:
    base: dict[str, Any] = {
        "status": Status.ACTUAL,
        "headline": "Code Red: fire in Building B",
        "instruction": "Avoid Building B.",
        "translations": {
            "es": MessageText(headline="Código rojo: incendio en el edificio B", instruction="Evite B.")
        },
        "audiences": ("all-staff",),
    }
    return CrisisMessage(**(base | kw))


# -- the shared contract --------------------------------------------------------------------
async def test_contract_suite(channel: SmsChannel, fake: FakeTwilio, canary: str) -> None:
    """Success, every error class with Twilio's codes, Retry-After, and no secret anywhere."""

    async def provider_goes_down() -> None:
        await fake.stop()

    cases = [
        ErrorCase(
            "429 with Retry-After",
            RateLimited,
            code="20429",
            status=429,
            retry_after_s=7,
            fault=rate_limited_fault(7),
        ),
        ErrorCase("503", Ambiguous, code="20500", status=503, fault=Fault(status=503)),
        ErrorCase(
            "opted out",
            Permanent,
            code="21610",
            status=400,
            reason_contains="opted out",
            fault=permanent_fault(21610),
        ),
        ErrorCase("dropped after accept", Ambiguous, fault=Fault(status=0, drop=True, after_accept=True)),
        ErrorCase("connection refused", Transient, arrange=provider_goes_down),
    ]
    await run_contract_suite(channel, fake=fake, make_delivery=sms, cases=cases, canaries=[canary])


# -- requests -------------------------------------------------------------------------------
async def test_success_sends_the_exact_form(channel: SmsChannel, fake: FakeTwilio, canary: str) -> None:
    """One POST to the account's Messages.json with Basic auth and exactly these form fields."""
    delivery = sms("+16175550101")
    receipt = await channel.send(delivery, None)
    assert receipt.provider_id == fake.messages(SID)[0]["sid"]
    assert receipt.status == "accepted"
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
    assert form_of(fake) == {
        "To": "+16175550101",
        "MessagingServiceSid": MG,
        "Body": delivery.body,
        "ValidityPeriod": "3600",
        "SmartEncoded": "true",
    }
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert len(fake.requests) == 1


async def test_from_number_and_status_callback(fake: FakeTwilio, canary: str, contacts_file: Path) -> None:
    """With a From number and a public server URL, From and StatusCallback are sent; no service SID."""
    settings = settings_for(
        fake.base_url,
        contacts_file,
        messaging_service_sid=None,
        from_number="+15005550006",
        smart_encoding=False,
        server={"public_url": "https://alerts.example.org/"},
    )
    ch = build(settings, secrets_with(canary), exercise=False)
    try:
        receipt = await ch.send(sms("+16175550101"), None)
    finally:
        await ch.aclose()
    assert receipt.status == "queued"
    form = form_of(fake)
    assert form["From"] == "+15005550006"
    assert "MessagingServiceSid" not in form
    assert form["StatusCallback"] == (
        "https://alerts.example.org" + STATUS_CALLBACK_PATH + "?key=d1:sms:%2B16175550101:0"
    )
    assert form["SmartEncoded"] == "false"


async def test_status_callbacks_reach_the_configured_url_signed(
    fake: FakeTwilio, canary: str, contacts_file: Path
) -> None:
    """sms.status_callback_url is sent as StatusCallback; the callbacks Twilio (the fake) then
    posts there validate with the account's auth token."""
    got: list[tuple[str, dict[str, str], str]] = []
    two = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        got.append((str(request.url), form, request.headers["X-Twilio-Signature"]))
        if len(got) == 2:
            two.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(STATUS_CALLBACK_PATH, receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{STATUS_CALLBACK_PATH}"
    ch = build(
        settings_for(fake.base_url, contacts_file, status_callback_url=url),
        secrets_with(canary),
        exercise=False,
    )
    try:
        delivery = sms()
        receipt = await ch.send(delivery, None)
        async with asyncio.timeout(5):
            await two.wait()
    finally:
        await ch.aclose()
        await runner.cleanup()
    assert [f["MessageStatus"] for _, f, _ in got] == ["sent", "delivered"]
    assert all(f["MessageSid"] == receipt.provider_id for _, f, _ in got)
    assert all(RequestValidator(canary).validate(u, f, s) for u, f, s in got)
    assert all(u.endswith(f"?key={quote(delivery.key, safe=':')}") for u, _, _ in got)


def test_validity_period_is_clipped_to_the_expiry(channel: SmsChannel) -> None:
    """ValidityPeriod is the configured one, or less when the message expires sooner."""
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    far = sms(expires=(now + timedelta(hours=5)).isoformat())
    near = sms(expires=(now + timedelta(seconds=90.5)).isoformat())
    assert channel.request_params(far, now=now)["validity_period"] == 3600
    assert channel.request_params(near, now=now)["validity_period"] == 90
    assert channel.request_params(sms(), now=now)["validity_period"] == 3600


async def test_expired_message_is_permanent_without_a_request(channel: SmsChannel, fake: FakeTwilio) -> None:
    """A delivery whose message has expired is refused before any request leaves."""
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    with pytest.raises(Permanent) as info:
        await channel.send(sms(expires=past), None)
    assert info.value.code == "expired"
    assert fake.requests == []


async def test_one_session_for_all_sends(channel: SmsChannel, fake: FakeTwilio) -> None:
    """Concurrent sends share one aiohttp session (no session per request)."""
    session = channel._transport._sessions.get()
    await asyncio.gather(*(channel.send(sms(), None) for _ in range(30)))
    assert channel._transport._sessions.get() is session
    assert len(fake.messages(SID)) == 30


# -- classification over HTTP ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21610, "opted out (replied STOP)"),
        (21614, "not a mobile number"),
        (21408, "region"),
        (21608, "unverified"),
        (21635, "landline"),
    ],
)
async def test_refused_numbers_are_permanent_with_their_code(
    channel: SmsChannel, fake: FakeTwilio, code: int, words: str
) -> None:
    """Twilio's per-number refusals are Permanent, carry the code and a plain reason."""
    target = _number()
    fake.refuse[target] = code
    err = await assert_classified(
        channel,
        sms(target),
        ErrorCase(str(code), Permanent, code=str(code), status=400, reason_contains=words),
    )
    assert err.code == str(code)


async def test_invalid_number_is_21211(channel: SmsChannel) -> None:
    """A number Twilio cannot parse is Permanent 21211."""
    await assert_classified(channel, sms("+1555"), ErrorCase("21211", Permanent, code="21211", status=400))


async def test_wrong_token_is_permanent_and_names_the_variable(fake: FakeTwilio, contacts_file: Path) -> None:
    """401 / 20003 is Permanent and tells the operator which secret to check."""
    ch = build(settings_for(fake.base_url, contacts_file), secrets_with("not-the-token"), exercise=False)
    try:
        await assert_classified(
            ch, sms(), ErrorCase("20003", Permanent, code="20003", status=401, reason_contains=TOKEN_VAR)
        )
    finally:
        await ch.aclose()


async def test_429_without_retry_after(channel: SmsChannel, fake: FakeTwilio) -> None:
    """A 429 without Retry-After is RateLimited with no retry_after_s (the retry stage decides)."""
    case = ErrorCase("429", RateLimited, code="20429", no_retry_after=True, fault=rate_limited_fault())
    await assert_classified(channel, sms(), case, fake=fake)


async def test_read_timeout_after_send_is_ambiguous(
    fake: FakeTwilio, canary: str, contacts_file: Path
) -> None:
    """No answer within the request timeout after the request was written is Ambiguous."""
    ch = build(
        settings_for(fake.base_url, contacts_file, request_timeout_s=0.2),
        secrets_with(canary),
        exercise=False,
    )
    try:
        case = ErrorCase("slow", Ambiguous, code="timeout", fault=Fault(status=201, delay_s=0.6))
        await assert_classified(ch, sms(), case, fake=fake)
    finally:
        await ch.aclose()


async def test_connection_refused_is_transient(canary: str, contacts_file: Path) -> None:
    """Nothing listening: the request never left, so it is Transient (safe to retry)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ch = build(settings_for(f"http://127.0.0.1:{port}", contacts_file), secrets_with(canary), exercise=False)
    try:
        await assert_classified(ch, sms(), ErrorCase("refused", Transient, code="connect_error"))
    finally:
        await ch.aclose()


def _rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, "https://api.twilio.com/x", "Unable to create record", code, "POST")


@pytest.mark.parametrize(
    ("exc", "headers", "expected", "code", "retry_after_s"),
    [
        (_rest(429, 20429), {"Retry-After": "3"}, RateLimited, "20429", 3.0),
        (_rest(429, 429), {}, RateLimited, "http_429", None),
        (_rest(400, 20429), {}, RateLimited, "20429", None),
        (_rest(500, 20500), {}, Ambiguous, "20500", None),
        (_rest(503, 503), {"Retry-After": "5"}, Ambiguous, "http_503", None),
        (_rest(400, 21611), {}, RateLimited, "21611", 60.0),
        (_rest(400, 21611), {"Retry-After": "20"}, RateLimited, "21611", 20.0),
        (_rest(400, 21211), {}, Permanent, "21211", None),
        (_rest(400, 21610), {}, Permanent, "21610", None),
        (_rest(400, 21614), {}, Permanent, "21614", None),
        (_rest(400, 21408), {}, Permanent, "21408", None),
        (_rest(400, 21608), {}, Permanent, "21608", None),
        (_rest(400, 21635), {}, Permanent, "21635", None),
        (_rest(401, 20003), {}, Permanent, "20003", None),
        (_rest(404, 20404), {}, Permanent, "20404", None),
        (_rest(400, 29999), {}, Permanent, "29999", None),
        (_rest(403, None), {}, Permanent, "http_403", None),
        (TwilioServiceException("about:blank", "Too Many", 429, 20429), {}, RateLimited, "20429", None),
        (aiohttp.ServerDisconnectedError(), {}, Ambiguous, "disconnected", None),
        (aiohttp.ClientPayloadError("cut"), {}, Ambiguous, "disconnected", None),
        (TimeoutError(), {}, Ambiguous, "timeout", None),
        (json.JSONDecodeError("bad", "", 0), {}, Ambiguous, "bad_response", None),
        (Transient("already classified", code="connect_error"), {}, Transient, "connect_error", None),
    ],
)
def test_translate_error_table(
    exc: BaseException,
    headers: dict[str, str],
    expected: type[DeliveryError],
    code: str,
    retry_after_s: float | None,
) -> None:
    """The one map from SDK/aiohttp exceptions to classified errors, pinned case by case."""
    err = translate_error(exc, CapturedResponse(status=0, headers=CIMultiDict(headers)))
    assert type(err) is expected
    assert err.code == code
    assert getattr(err, "retry_after_s", None) == retry_after_s
    assert "\n" not in str(err) and "api.twilio.com" not in str(err)
    if code == "21610":
        assert str(err) == "the recipient has opted out (replied STOP)"


# -- reconcile ------------------------------------------------------------------------------
async def test_reconcile_finds_a_message_accepted_before_the_connection_dropped(
    channel: SmsChannel, fake: FakeTwilio
) -> None:
    """After an Ambiguous drop the fake has the message; reconcile finds it by To, sender and body."""
    delivery = sms()
    fake.faults.scripted.append(Fault(status=0, drop=True, after_accept=True))
    with pytest.raises(Ambiguous):
        await channel.send(delivery, None)
    [stored] = fake.messages(SID)
    receipt = await channel.reconcile(delivery)
    assert receipt is not None and receipt.provider_id == stored["sid"]
    listing = fake.requests[-1]
    assert listing.method == "GET"
    assert listing.query["To"] == delivery.target
    assert "DateSent>" in listing.query


async def test_reconcile_finds_a_message_still_queued(
    fake: FakeTwilio, canary: str, contacts_file: Path
) -> None:
    """A message still in Twilio's queue has no DateSent; reconcile still finds it (To-only list)."""
    fake.hold_queued = True
    ch = build(settings_for(fake.base_url, contacts_file), secrets_with(canary), exercise=False)
    try:
        delivery = sms()
        sent = await ch.send(delivery, None)
        found = await ch.reconcile(delivery)
    finally:
        await ch.aclose()
    assert found is not None and found.provider_id == sent.provider_id
    gets = [r.query for r in fake.requests if r.method == "GET"]
    assert len(gets) == 2 and "DateSent>" in gets[0] and "DateSent>" not in gets[1]


async def test_reconcile_not_found(channel: SmsChannel, fake: FakeTwilio) -> None:
    """No message to that number with that body: None (safe to send). Other bodies don't count."""
    delivery = sms()
    await channel.send(sms(delivery.target, body="An earlier, different text."), None)
    assert await channel.reconcile(delivery) is None


async def test_reconcile_ignores_messages_from_before_the_render(channel: SmsChannel) -> None:
    """A same-text message sent before this delivery was rendered is not taken for it."""
    old = sms()
    await channel.send(old, None)
    later = sms(old.target, rendered_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert await channel.reconcile(later) is None


async def test_reconcile_list_failing_now_is_transient(channel: SmsChannel, fake: FakeTwilio) -> None:
    """A message list that fails this time (503) is Transient: the dispatcher asks again later
    instead of handing the delivery to the in-doubt policy."""
    fake.faults.scripted.append(Fault(status=503, path_contains="Messages.json"))
    with pytest.raises(Transient, match="message list"):
        await channel.reconcile(sms())


async def test_reconcile_list_throttled_is_rate_limited_with_retry_after(
    channel: SmsChannel, fake: FakeTwilio
) -> None:
    """Twilio answering the message list with 429/20429 is RateLimited with its Retry-After,
    so the dispatcher pauses the account instead of asking again at once."""
    fault = rate_limited_fault(retry_after_s=7)
    fault.path_contains = "Messages.json"
    fake.faults.scripted.append(fault)
    with pytest.raises(RateLimited, match="message list") as info:
        await channel.reconcile(sms())
    assert info.value.retry_after_s == 7.0


async def test_reconcile_list_refused_is_cannot_reconcile(channel: SmsChannel, fake: FakeTwilio) -> None:
    """A message list Twilio refuses (credentials) is CannotReconcile with a plain reason."""
    body = {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401}
    fake.faults.scripted.append(Fault(status=401, body=body, path_contains="Messages.json"))
    with pytest.raises(CannotReconcile, match="message list"):
        await channel.reconcile(sms())


# -- render ---------------------------------------------------------------------------------
def test_render_one_delivery_per_number_in_the_contacts_language(channel: SmsChannel) -> None:
    """all-staff reaches each staff number once; Spanish readers get the Spanish text; the
    bad row is reported, not fatal."""
    deliveries = channel.render(message(), RenderContext(dispatch_id="d9"))
    assert [d.target for d in deliveries] == ["+16175550101", "+16175550102", "+16175550103"]
    assert [d.language for d in deliveries] == ["es", "en", "es"]
    assert deliveries[0].body.startswith("Código rojo")
    assert deliveries[1].body.startswith("Code Red")
    assert deliveries[0].body is deliveries[2].body  # rendered once per language
    assert deliveries[0].key == "d9:sms:+16175550101:0"
    assert [p.line for p in channel.contact_problems] == [4, 7]  # line 4 repeats line 2's number


def test_render_exercise_only_to_exercise_audiences(channel: SmsChannel) -> None:
    """An Exercise goes to the drill team only, marked, even when it names all-staff."""
    deliveries = channel.render(message(status=Status.EXERCISE), RenderContext(dispatch_id="d9"))
    assert [d.target for d in deliveries] == ["+16175550190", "+16175550103"]
    assert all(d.body.startswith("EXERCISE EXERCISE EXERCISE") for d in deliveries)


def test_render_only_targets_for_an_update(channel: SmsChannel) -> None:
    """An Update reaches exactly the numbers the original reached, incl. one no longer listed."""
    update = message(msg_type=MsgType.UPDATE, references=("orig",))
    ctx = RenderContext(dispatch_id="d9", only_targets={"sms": frozenset({"+16175550102", "+16175550777"})})
    deliveries = channel.render(update, ctx)
    assert [(d.target, d.language) for d in deliveries] == [("+16175550102", "en"), ("+16175550777", "en")]


def test_render_unknown_audience_is_a_policy_error(channel: SmsChannel) -> None:
    """A message naming an audience the configuration lacks is refused, plainly."""
    with pytest.raises(PolicyError, match="'night-shift'"):
        channel.render(message(audiences=("night-shift",)), RenderContext(dispatch_id="d9"))


def test_render_carries_expiry_for_the_validity_period(channel: SmsChannel) -> None:
    """The message's expiry travels in the payload, so a resumed send still clips ValidityPeriod."""
    expires = datetime.now(UTC) + timedelta(minutes=10)
    [first, *_] = channel.render(message(expires=expires), RenderContext(dispatch_id="d9"))
    assert channel.request_params(first)["validity_period"] <= 600
    assert first.payload["segments"] == 1


# -- build ----------------------------------------------------------------------------------
def test_build_names_the_missing_secret(contacts_file: Path) -> None:
    """No auth token: unavailable, naming CRISISCAST_TWILIO_AUTH_TOKEN."""
    with pytest.raises(ChannelUnavailable, match=TOKEN_VAR):
        build(settings_for("http://127.0.0.1:9", contacts_file), secrets_with(None), exercise=False)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"enabled": False}, "disabled"),
        ({"account_sid": ""}, "account_sid"),
        ({"messaging_service_sid": None}, "sender"),
        ({"contacts": "/nonexistent/contacts.csv"}, "contacts file"),
    ],
)
def test_build_refuses_with_a_plain_reason(
    contacts_file: Path, overrides: dict[str, Any], words: str
) -> None:
    """Each configuration gap makes the channel unavailable with a sentence naming it."""
    contacts = overrides.pop("contacts", contacts_file)
    settings = settings_for("http://127.0.0.1:9", contacts, **overrides)
    with pytest.raises(ChannelUnavailable, match=words):
        build(settings, secrets_with("token-123456"), exercise=False)


def test_build_refuses_a_contacts_file_without_a_phone_column(tmp_path: Path) -> None:
    """A contacts file that cannot be used at all makes SMS unavailable, saying why."""
    path = tmp_path / "contacts.csv"
    path.write_text("name,mobile,groups\nAna,+16175550101,staff\n", encoding="utf-8")
    with pytest.raises(ChannelUnavailable, match="no 'phone' column"):
        build(settings_for("http://127.0.0.1:9", path), secrets_with("token-123456"), exercise=False)


def test_build_reads_contacts_and_logs_bad_rows(contacts_file: Path) -> None:
    """build reads the contacts once; each bad row is logged with its line, and kept."""
    with structlog.testing.capture_logs() as logs:
        ch = build(
            settings_for("http://127.0.0.1:9", contacts_file), secrets_with("token-123456"), exercise=False
        )
    assert [(e["event"], e["line"]) for e in logs if e["event"] == "contact_row_skipped"] == [
        ("contact_row_skipped", 4),  # repeats line 2's number (its groups merged there)
        ("contact_row_skipped", 7),
    ]
    assert len(ch.contacts.contacts) == 4


def test_build_exercise_needs_exercise_audiences(contacts_file: Path) -> None:
    """Without exercise audiences an Exercise cannot use SMS."""
    settings = settings_for("http://127.0.0.1:9", contacts_file).model_copy(update={"exercise_audiences": ()})
    with pytest.raises(ChannelUnavailable, match="exercise"):
        build(settings, secrets_with("token-123456"), exercise=True)


def test_account_names_the_account_sid_only(contacts_file: Path, canary: str) -> None:
    """account is "sms:<AccountSid>" and nothing about the channel shows the token."""
    ch = build(settings_for("http://127.0.0.1:9", contacts_file), secrets_with(canary), exercise=False)
    assert ch.account == f"sms:{SID}"
    assert canary not in repr(ch) and canary not in repr(vars(ch))


async def test_sandbox_env_works_with_the_default_fake(contacts_file: Path) -> None:
    """The sandbox's known token authenticates against a default FakeTwilio."""
    fake = FakeTwilio()
    await fake.start()
    token = sandbox_env()[TOKEN_VAR]
    ch = build(settings_for(fake.base_url, contacts_file), secrets_with(token), exercise=False)
    try:
        receipt = await ch.send(sms(), None)
        assert receipt.provider_id
    finally:
        await ch.aclose()
        await fake.stop()


async def test_failures_log_without_the_token(fake: FakeTwilio, canary: str, contacts_file: Path) -> None:
    """Failing sends log the delivery, kind and code, never the auth token."""
    ch = build(settings_for(fake.base_url, contacts_file), secrets_with(canary), exercise=False)
    try:
        with watch_for_leaks([canary]) as watch:
            fake.faults.scripted.append(Fault(status=500))
            with pytest.raises(Ambiguous) as info:
                await ch.send(sms(), None)
            watch.add(info.value)
        assert any(e.get("event") == "sms_attempt_failed" for e in watch.logs)
    finally:
        await ch.aclose()


# -- through the dispatcher -----------------------------------------------------------------
async def test_dispatch_200_recipients_with_faults(fake: FakeTwilio, canary: str, tmp_path: Path) -> None:
    """200 recipients, 20 % 503s on sends and one opted-out number: every 503 is reconciled and
    resent to success, the opted-out number is tried exactly once, nobody gets two texts, and the
    audit's attempts equal the POSTs the fake saw."""
    from crisiscast.audit.events import EventKind
    from crisiscast.audit.open import open_store
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry

    numbers = [f"+1617555{i:04d}" for i in range(2000, 2200)]
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,phone,groups,language\n"
        + "".join(f"P{i},{n},staff,{'es' if i % 4 else 'en'}\n" for i, n in enumerate(numbers)),
        encoding="utf-8",
    )
    opted_out = numbers[17]
    fake.refuse[opted_out] = 21610
    fake.read_faults = False  # 503s hit the sends; the message list stays readable
    fake.faults.configure({"error_rate": 0.2, "error_status": 503, "seed": 7})
    # 12 attempts: with 20 % 503s, 5 would leave 0.2**5 per number, about a 6 % chance per run
    # that one of 200 gives up (retries are bounded by the deadline, not a small count, for R1)
    settings = settings_for(
        fake.base_url, path, max_requests_per_s=5000, burst=100, max_concurrency=20, max_attempts=12
    )
    channel = build(settings, secrets_with(canary), exercise=False)
    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.005)
        report = await dispatcher.dispatch(message(), [channel], approval={"by": ["a", "b"]})
        events = [e.event async for e in store.events(report.dispatch_id)]
    finally:
        await store.close()
    sms_report = report.channels["sms"]
    assert sms_report.planned == 200
    assert sms_report.delivered == 199
    assert [(f.target, f.code) for f in sms_report.failed] == [(opted_out, "21610")]
    posts = [r for r in fake.requests if r.method == "POST"]
    assert sum(1 for r in posts if dict(parse_qsl(r.body))["To"] == opted_out) == 1
    assert any(r.status == 503 for r in posts), "the fault plan injected no 503"
    assert any(r.method == "GET" for r in fake.requests), "no in-doubt delivery was reconciled"
    stored_to = [m["to"] for m in fake.messages(SID)]
    assert sorted(stored_to) == sorted(n for n in numbers if n != opted_out)  # each exactly once
    started = [e for e in events if e.kind == EventKind.ATTEMPT_STARTED]
    assert len(started) == len(posts)


async def test_receipts_flow_back_to_the_server(fake: FakeTwilio, canary: str, tmp_path: Path) -> None:
    """End to end: the fake's signed status callbacks reach crisiscast's server at the public
    URL, validate, and land in the audit as receipts of the right deliveries."""
    from crisiscast.audit.events import EventKind
    from crisiscast.audit.open import open_store
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.server.app import build_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    settings = settings_for(fake.base_url, path, server={"public_url": f"http://127.0.0.1:{port}"})
    settings = settings.model_copy(update={"templates_dir": str(REPO / "config" / "templates")})
    secrets = secrets_with(canary)
    store = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    await store.open()
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    runner = web.AppRunner(
        build_app(settings, secrets, store, dispatcher, receipt_wait_s=0.5), access_log=None
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        report = await dispatcher.dispatch(
            message(), [build(settings, secrets, exercise=False)], approval={"by": ["a", "b"]}
        )
        await fake.callbacks_settled()
        events = [e.event async for e in store.events(report.dispatch_id)]
    finally:
        await runner.cleanup()
        await store.close()
    assert report.channels["sms"].delivered == 3
    assert [c.status for c in fake.callbacks] == [204] * 6
    receipts = {(e.delivery_key, e.data["status"]) for e in events if e.kind == EventKind.RECEIPT_STATUS}
    keys = {f"{report.dispatch_id}:sms:{n}:0" for n in ("+16175550101", "+16175550102", "+16175550103")}
    assert receipts == {(k, s) for k in keys for s in ("sent", "delivered")}
