"""The Twilio fake speaks Twilio's protocol: auth, validation, JSON shapes, list filters, callbacks.

These tests talk to the fake with a plain aiohttp client over 127.0.0.1, the way any Twilio
client would, so the fake is pinned independently of crisiscast's SMS channel.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from crisiscast.sandbox.common import Fault
from crisiscast.sandbox.twilio import (
    OPTED_OUT_NUMBER,
    SANDBOX_CREDENTIALS,
    FakeTwilio,
    permanent_fault,
    rate_limited_fault,
    sandbox_env,
    twilio_error,
)

SID = SANDBOX_CREDENTIALS["account_sid"]
TOKEN = SANDBOX_CREDENTIALS["auth_token"]
MG = SANDBOX_CREDENTIALS["messaging_service_sid"]
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(refuse={OPTED_OUT_NUMBER: 21610, "+16175550198": 21614})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": _basic(SID, TOKEN)}) as session:
        yield session


async def _post(
    client: aiohttp.ClientSession, fake: FakeTwilio, form: dict[str, str], **kw: Any
) -> tuple[int, Any]:
    async with client.post(fake.base_url + MESSAGES, data=form, **kw) as resp:
        return resp.status, await resp.json()


async def _get(client: aiohttp.ClientSession, url: str, params: Any = None) -> tuple[int, Any]:
    async with client.get(url, params=params) as resp:
        return resp.status, await resp.json()


async def test_create_returns_twilios_message_json(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """A valid POST answers 201 with Twilio's resource shape: SM sid, accepted, RFC 2822 dates."""
    status, body = await _post(
        client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "Drill"}
    )
    assert status == 201
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "accepted"
    assert body["account_sid"] == SID
    assert body["to"] == "+16175550101"
    assert body["num_segments"] == "1"
    assert body["direction"] == "outbound-api"
    assert body["date_sent"] is None
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None
    assert body["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{body['sid']}.json"
    assert set(body) >= {"api_version", "error_code", "error_message", "price", "subresource_uris", "from"}


async def test_create_with_from_is_queued_and_segments_counted(
    fake: FakeTwilio, client: aiohttp.ClientSession
) -> None:
    """Without a Messaging Service the status is queued; long and Unicode bodies are segmented."""
    _, gsm = await _post(client, fake, {"To": "+16175550101", "From": "+15005550006", "Body": "a" * 161})
    _, ucs = await _post(client, fake, {"To": "+16175550101", "From": "+15005550006", "Body": "ñ" + "é" * 70})
    assert gsm["status"] == "queued"
    assert gsm["from"] == "+15005550006"
    assert gsm["num_segments"] == "2"
    assert ucs["num_segments"] == "1"  # é and ñ are GSM-7 characters
    _, emoji = await _post(client, fake, {"To": "+16175550101", "From": "+15005550006", "Body": "🚨" * 36})
    assert emoji["num_segments"] == "2"  # 72 UTF-16 units > 70


async def test_wrong_credentials_answer_20003(fake: FakeTwilio) -> None:
    """A wrong auth token (or none) is 401 with code 20003, Twilio's error body."""
    async with aiohttp.ClientSession(headers={"Authorization": _basic(SID, "wrong")}) as bad:
        status, body = await _post(bad, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"})
    assert status == 401
    assert body == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    async with aiohttp.ClientSession() as anonymous:
        status, body = await _post(anonymous, fake, {"To": "+16175550101", "Body": "x"})
    assert (status, body["code"]) == (401, 20003)
    assert fake.messages() == []


async def test_other_account_in_path_is_20404(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """Valid credentials for another account's path answer 404 / 20404."""
    other = "/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json"
    async with client.post(fake.base_url + other, data={"To": "+16175550101", "Body": "x"}) as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == 20404


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"MessagingServiceSid": MG, "Body": "x"}, 21604),
        ({"To": "+16175550101", "Body": "x"}, 21603),
        ({"To": "+16175550101", "MessagingServiceSid": MG}, 21602),
        ({"To": "+16175550101", "MessagingServiceSid": MG, "Body": ""}, 21602),
        ({"To": "+1555", "MessagingServiceSid": MG, "Body": "x"}, 21211),
        ({"To": "6175550101", "MessagingServiceSid": MG, "Body": "x"}, 21211),
        ({"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x" * 1601}, 21617),
        ({"To": "+16175550101", "MessagingServiceSid": "MGnope", "Body": "x"}, 21705),
        ({"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x", "ValidityPeriod": "0"}, 21624),
        ({"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x", "ValidityPeriod": "36001"}, 21624),
        ({"To": OPTED_OUT_NUMBER, "MessagingServiceSid": MG, "Body": "x"}, 21610),
        ({"To": "+16175550198", "MessagingServiceSid": MG, "Body": "x"}, 21614),
    ],
)
async def test_validation_errors(
    fake: FakeTwilio, client: aiohttp.ClientSession, form: dict[str, str], code: int
) -> None:
    """Each invalid request answers 400 with Twilio's code and error shape, and stores nothing."""
    status, body = await _post(client, fake, form)
    assert status == 400
    assert body["code"] == code
    assert body["status"] == 400
    assert body["more_info"].endswith(f"/{code}")
    assert body["message"]
    assert fake.messages() == []


async def test_scripted_429_uses_twilio_body(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """A scripted 429 without a body answers Twilio's 20429 shape with the scripted headers."""
    fake.faults.scripted.append(Fault(status=429, headers={"Retry-After": "3"}))
    async with client.post(
        fake.base_url + MESSAGES, data={"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"}
    ) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
        assert (await resp.json())["code"] == 20429


async def test_list_filters_by_to_from_and_date(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """The message list filters on To, From and DateSent (day or date-time, on/after, on/before)."""
    for to, sender in [("+16175550101", "+15005550006"), ("+16175550102", "+15005550006")]:
        await _post(client, fake, {"To": to, "From": sender, "Body": "hello"})
    await _post(client, fake, {"To": "+16175550101", "From": "+15005550007", "Body": "other sender"})
    url = fake.base_url + MESSAGES
    today = datetime.now(UTC).date()
    _, page = await _get(client, url, {"To": "+16175550101"})
    assert [m["body"] for m in page["messages"]] == ["other sender", "hello"]  # newest first
    _, page = await _get(client, url, {"To": "+16175550101", "From": "+15005550006"})
    assert [m["to"] for m in page["messages"]] == ["+16175550101"]
    _, page = await _get(client, url, {"DateSent>": today.isoformat()})
    assert len(page["messages"]) == 3
    _, page = await _get(client, url, {"DateSent<": (today - timedelta(days=1)).isoformat()})
    assert page["messages"] == []
    _, page = await _get(client, url, {"DateSent": today.isoformat()})
    assert len(page["messages"]) == 3
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, page = await _get(client, url, {"DateSent>": later})
    assert page["messages"] == []
    assert all(m["date_sent"] for m in fake.messages())


async def test_list_pages_with_next_page_uri(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """Paging follows Twilio's shape: page, page_size, start/end and next_page_uri to follow."""
    for i in range(5):
        await _post(client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": f"m{i}"})
    status, first = await _get(client, fake.base_url + MESSAGES, {"PageSize": "2"})
    assert status == 200
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
    assert first["previous_page_uri"] is None
    bodies = [m["body"] for m in first["messages"]]
    uri = first["next_page_uri"]
    while uri:
        _, page = await _get(client, fake.base_url + uri)
        bodies += [m["body"] for m in page["messages"]]
        uri = page["next_page_uri"]
    assert bodies == ["m4", "m3", "m2", "m1", "m0"]


async def test_fetch_one_message(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """GET …/Messages/{Sid}.json returns the stored message; an unknown sid is 404 / 20404."""
    _, created = await _post(client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"})
    status, fetched = await _get(client, fake.base_url + created["uri"])
    assert status == 200
    assert fetched["sid"] == created["sid"]
    status, missing = await _get(client, fake.base_url + MESSAGES.replace(".json", "/SM0.json"))
    assert (status, missing["code"]) == (404, 20404)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, str], str]], asyncio.Event]]:
    """A local endpoint that records status callbacks and sets an event after two."""
    seen: list[tuple[str, dict[str, str], str]] = []
    two = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append(
            (str(request.url), {k: str(v) for k, v in form.items()}, request.headers["X-Twilio-Signature"])
        )
        if len(seen) >= 2:
            two.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/twilio/status", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/twilio/status", seen, two
    await runner.cleanup()


async def test_status_callbacks_are_signed(
    fake: FakeTwilio,
    client: aiohttp.ClientSession,
    receiver: tuple[str, list[tuple[str, dict[str, str], str]], asyncio.Event],
) -> None:
    """With StatusCallback, the fake POSTs 'sent' then 'delivered', form-encoded, with an
    X-Twilio-Signature that the SDK's RequestValidator accepts for the auth token."""
    url, seen, two = receiver
    _, created = await _post(
        client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x", "StatusCallback": url}
    )
    async with asyncio.timeout(5):
        await two.wait()
    assert [params["MessageStatus"] for _, params, _ in seen] == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for got_url, params, signature in seen:
        assert params["MessageSid"] == created["sid"]
        assert params["AccountSid"] == SID
        assert validator.validate(got_url, params, signature)
        assert not RequestValidator("another-token").validate(got_url, params, signature)
    assert "RawDlrDoneDate" in seen[1][1]
    await fake.callbacks_settled()
    assert [c.status for c in fake.callbacks] == [204, 204]


async def test_status_callbacks_can_be_switched_off(
    client: aiohttp.ClientSession,
    receiver: tuple[str, list[tuple[str, dict[str, str], str]], asyncio.Event],
) -> None:
    """With status_callbacks off nothing is POSTed back, but the message is stored."""
    fake = FakeTwilio(status_callbacks=False)
    await fake.start()
    try:
        url, seen, _ = receiver
        status, _ = await _post(
            client,
            fake,
            {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x", "StatusCallback": url},
        )
        await fake.callbacks_settled()
        assert status == 201
        assert seen == []
        assert len(fake.messages()) == 1
    finally:
        await fake.stop()


async def test_reset_forgets_messages(fake: FakeTwilio, client: aiohttp.ClientSession) -> None:
    """The control API's reset clears the request log and the stored messages."""
    await _post(client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"})
    async with client.post(fake.base_url + "/_sandbox/reset") as resp:
        assert resp.status == 200
    assert fake.messages() == []
    assert fake.requests == []


def test_sandbox_env_names_the_token() -> None:
    """sandbox_env() gives the environment variable the SMS channel reads, with the fake's token."""
    assert sandbox_env() == {"CRISISCAST_TWILIO_AUTH_TOKEN": TOKEN}


async def test_read_faults_off_spares_the_message_list(client: aiohttp.ClientSession) -> None:
    """With read_faults off, random 5xx hit only sends; the list still answers (and is recorded)."""
    fake = FakeTwilio(read_faults=False)
    fake.faults.configure({"error_rate": 1.0, "error_status": 503})
    await fake.start()
    try:
        status, _ = await _post(client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"})
        listed, page = await _get(client, fake.base_url + MESSAGES)
    finally:
        await fake.stop()
    assert (status, listed) == (503, 200)
    assert page["messages"] == []
    assert [(r.method, r.status) for r in fake.requests] == [("POST", 503), ("GET", 200)]


async def test_hold_queued_messages_have_no_date_sent(client: aiohttp.ClientSession) -> None:
    """Held in the queue: no date_sent, so DateSent filters skip it while a To-only list shows it."""
    fake = FakeTwilio(hold_queued=True)
    await fake.start()
    try:
        await _post(client, fake, {"To": "+16175550101", "MessagingServiceSid": MG, "Body": "x"})
        today = datetime.now(UTC).date().isoformat()
        _, by_date = await _get(client, fake.base_url + MESSAGES, {"DateSent>": today})
        _, by_to = await _get(client, fake.base_url + MESSAGES, {"To": "+16175550101"})
    finally:
        await fake.stop()
    assert by_date["messages"] == []
    assert [(m["status"], m["date_sent"]) for m in by_to["messages"]] == [("accepted", None)]


def test_fault_helpers_use_twilios_bodies() -> None:
    """The fault helpers script Twilio's own 429/20429 and refusal bodies."""
    limited = rate_limited_fault(3)
    assert (limited.status, limited.headers["Retry-After"], limited.body["code"]) == (429, "3", 20429)
    assert "Retry-After" not in rate_limited_fault().headers
    refused = permanent_fault(21610)
    assert (refused.status, refused.body["code"], refused.body["message"]) == (
        400,
        21610,
        "Attempt to send to unsubscribed recipient",
    )
    assert twilio_error(21211, "bad")["more_info"] == "https://www.twilio.com/docs/errors/21211"
