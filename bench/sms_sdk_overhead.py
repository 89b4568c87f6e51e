"""Client CPU per SMS request: the twilio SDK path crisiscast uses vs a bare aiohttp POST.

The Twilio fake runs in a child process (0 ms latency), so the CPU measured here is the
client's alone. Three variants send the same form to the same fake:

- ``bare``: one shared ``aiohttp.ClientSession``, ``session.post(form)``, read + ``json.loads``;
- ``channel``: ``SmsChannel.send`` — the SDK's ``messages.create_async`` through crisiscast's
  ``TwilioTransport`` (traced session, classification, ``Receipt``);
- ``sdk_stock``: the SDK with its own ``AsyncTwilioHttpClient`` (for reference).

Prints the median CPU ms per request over several rounds and the ratios. Usage::

    .venv/bin/python bench/sms_sdk_overhead.py [requests_per_round] [rounds]
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

CONCURRENCY = 50


def _serve(port_out: Any, stop: Any) -> None:
    from crisiscast.sandbox.twilio import FakeTwilio

    async def main() -> None:
        fake = FakeTwilio(refuse={})
        url = await fake.start()
        port_out.put(url)
        while not stop.is_set():
            fake.requests.clear()  # keep the fake's memory flat
            for account in fake._accounts.values():
                account.messages.clear()
            await asyncio.sleep(0.5)
        await fake.stop()

    asyncio.run(main())


async def _run(n: int, one: Callable[[int], Awaitable[Any]]) -> float:
    """CPU seconds per request for ``n`` requests, ``CONCURRENCY`` at a time."""
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return (time.process_time() - started) / n


async def main(n: int, rounds: int) -> None:
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    from crisiscast.channels.sms.channel import SmsChannel
    from crisiscast.config import Settings
    from crisiscast.delivery import Delivery
    from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS

    sid, token, mg = (SANDBOX_CREDENTIALS[k] for k in ("account_sid", "auth_token", "messaging_service_sid"))
    ctx = multiprocessing.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_q, stop), daemon=True)
    server.start()
    base = port_q.get(timeout=30)
    url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
    body = "EXERCISE EXERCISE EXERCISE\nCode Red: fire in Building B\nAvoid Building B."
    settings = Settings.model_validate(
        {"channels": {"sms": {"api_base_url": base, "account_sid": sid, "messaging_service_sid": mg}}}
    )
    channel = SmsChannel(settings, SecretStr(token))
    await channel.start()
    auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    bare_session = aiohttp.ClientSession(headers={"Authorization": auth})
    stock = Client(sid, token, http_client=AsyncTwilioHttpClient(), environment={"TWILIO_EDGE": ""})
    stock.api.base_url = base  # the undocumented attribute, fine for a reference measurement
    stock_messages = stock.api.v2010.account.messages

    def to(i: int) -> str:
        return f"+1617{200 + (i // 10000) % 800:03d}{i % 10000:04d}"

    def form(i: int) -> dict[str, str]:
        return {
            "To": to(i),
            "ValidityPeriod": "3600",
            "SmartEncoded": "true",
            "MessagingServiceSid": mg,
            "Body": body,
        }

    async def bare(i: int) -> None:
        async with bare_session.post(url, data=form(i)) as resp:
            payload = json.loads(await resp.read())
            assert resp.status == 201, payload

    async def via_channel(i: int) -> None:
        await channel.send(Delivery("bench", "sms", to(i), 0, body), None)

    async def sdk_stock(i: int) -> None:
        await stock_messages.create_async(
            to=to(i), messaging_service_sid=mg, body=body, validity_period=3600, smart_encoded=True
        )

    variants: dict[str, Callable[[int], Awaitable[Any]]] = {
        "bare": bare,
        "channel": via_channel,
        "sdk_stock": sdk_stock,
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for fn in variants.values():  # warm-up
            await _run(200, fn)
        for _ in range(rounds):
            for name, fn in variants.items():
                results[name].append(await _run(n, fn))
    finally:
        await channel.aclose()
        await bare_session.close()
        await stock.http_client.close()
        stop.set()
        server.join(timeout=10)

    medians = {name: statistics.median(values) * 1000 for name, values in results.items()}
    print(f"client CPU per request, median of {rounds} rounds x {n} requests, concurrency {CONCURRENCY}:")
    for name, ms in medians.items():
        spread = ", ".join(f"{v * 1000:.3f}" for v in results[name])
        print(f"  {name:10s} {ms:.3f} ms   ({spread})   x{ms / medians['bare']:.2f} of bare")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    asyncio.run(main(n, rounds))
