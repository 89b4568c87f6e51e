"""The Twilio fake sends staff replies as Twilio would: form-encoded, signed with X-Twilio-Signature
(checked here with the twilio SDK's RequestValidator), also over ``POST /_sandbox/inbound``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS, FakeTwilio


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    validator = RequestValidator(SANDBOX_CREDENTIALS["auth_token"])

    async def inbound(request: web.Request) -> web.Response:
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if not validator.validate(str(request.url), params, request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403, text="bad signature")
        seen.append(params)
        return web.Response(text="<Response/>", content_type="application/xml")

    app = web.Application()
    app.router.add_post("/v1/twilio/inbound", inbound)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1/twilio/inbound", seen
    await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    twilio = FakeTwilio()
    await twilio.start()
    yield twilio
    await twilio.stop()


async def test_signed_unsigned_and_forged_replies(
    fake: FakeTwilio, receiver: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = receiver
    ok = await fake.send_inbound(url, from_="+16175551000", body=" 1.")
    assert ok.status == 200 and ok.body == "<Response/>" and ok.sid.startswith("SM")
    assert (await fake.send_inbound(url, from_="+16175551000", body="1", signature="none")).status == 403
    assert (await fake.send_inbound(url, from_="+16175551000", body="1", signature="forged")).status == 403
    assert [(p["From"], p["Body"], p["To"], p["MessageSid"]) for p in seen] == [
        ("+16175551000", " 1.", fake.from_number, ok.sid)
    ]


async def test_the_http_route_sends_one_for_a_drill(
    fake: FakeTwilio, receiver: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = receiver
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.base_url}/_sandbox/inbound", json={"url": url, "from": "+16175551001", "body": "uno"}
        ) as resp:
            answer = await resp.json()
        async with session.post(f"{fake.base_url}/_sandbox/inbound", json={"url": url}) as bad:
            assert bad.status == 400
    assert answer["status"] == 200 and seen[0]["Body"] == "uno"
