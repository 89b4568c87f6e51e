"""The HTTP boundary: which network failures were sent (Ambiguous) and which were not (Transient)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from crisiscast.channels.http import SessionHolder, request, translate_exception
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, Transient
from crisiscast.sandbox.common import FakeProvider, Fault, RecordedRequest


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    provider = FakeProvider()

    async def echo(request: web.Request, rec: RecordedRequest) -> web.Response:
        return web.Response(status=418, text="not json")

    provider.route("POST", "/echo", echo)
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def holder() -> AsyncIterator[SessionHolder]:
    h = SessionHolder(timeout_s=0.2)
    yield h
    await h.aclose()


async def send(session: aiohttp.ClientSession, url: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        await request(session, "POST", url, provider="the test API", data={"a": "1"})
    return info.value


async def test_any_status_is_returned_not_raised(holder: SessionHolder, fake: FakeProvider) -> None:
    """An HTTP error status is the caller's to classify; a non-JSON body parses as None."""
    response = await request(holder.get(), "POST", fake.base_url + "/echo", provider="the test API")
    assert (response.status, response.text(), response.json()) == (418, "not json", None)


async def test_connection_refused_was_not_sent(holder: SessionHolder) -> None:
    """Refused before anything was written: Transient, safe to retry."""
    err = await send(holder.get(), "http://127.0.0.1:9/echo")
    assert (type(err), err.code) == (Transient, "connect_error")
    assert "connection refused" in str(err)


async def test_disconnect_after_send_is_ambiguous(holder: SessionHolder, fake: FakeProvider) -> None:
    """The provider accepted and then the connection broke: Ambiguous."""
    fake.faults.scripted.append(Fault(drop=True, after_accept=True))
    err = await send(holder.get(), fake.base_url + "/echo")
    assert (type(err), err.code) == (Ambiguous, "disconnected")


async def test_timeout_after_send_is_ambiguous(holder: SessionHolder, fake: FakeProvider) -> None:
    """No answer within the timeout after the request was written: Ambiguous."""
    fake.faults.scripted.append(Fault(status=200, delay_s=0.5))
    err = await send(holder.get(), fake.base_url + "/echo")
    assert (type(err), err.code) == (Ambiguous, "timeout")


async def test_invalid_url_is_permanent(holder: SessionHolder) -> None:
    """A URL that can never work is a configuration problem: Permanent."""
    err = await send(holder.get(), "http://[not-a-host/echo")
    assert (type(err), err.code) == (Permanent, "invalid_url")


async def test_untraced_session_falls_back_to_exception_types(fake: FakeProvider) -> None:
    """A session made elsewhere (no trace hook): connect errors are Transient, the rest Ambiguous."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        refused = await send(session, "http://127.0.0.1:9/echo")
        fake.faults.scripted.append(Fault(drop=True, after_accept=True))
        dropped = await send(session, fake.base_url + "/echo")
    assert type(refused) is Transient
    assert type(dropped) is Ambiguous


@pytest.mark.parametrize(
    ("exc", "sent", "expected", "code"),
    [
        (aiohttp.ConnectionTimeoutError(), None, Transient, "connect_timeout"),
        (aiohttp.SocketTimeoutError(), None, Ambiguous, "timeout"),
        (TimeoutError(), None, Ambiguous, "timeout"),
        (TimeoutError(), False, Transient, "connect_timeout"),
        (aiohttp.ServerDisconnectedError(), None, Ambiguous, "disconnected"),
        (aiohttp.ServerDisconnectedError(), True, Ambiguous, "disconnected"),
        (aiohttp.ClientPayloadError("broken"), True, Ambiguous, "disconnected"),
        (ConnectionRefusedError(111, "refused"), False, Transient, "connect_error"),
        (ConnectionResetError(104, "reset"), True, Ambiguous, "disconnected"),
    ],
)
def test_exception_map(
    exc: BaseException, sent: bool | None, expected: type[DeliveryError], code: str
) -> None:
    """The pinned map from network exceptions (and whether the request was written) to classes."""
    err = translate_exception(exc, provider="the test API", sent=sent)
    assert (type(err), err.code) == (expected, code)
    assert "\n" not in str(err) and str(err).endswith(".")
