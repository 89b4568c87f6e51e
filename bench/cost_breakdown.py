"""Where the CPU of one SMS delivery goes (explains P4): three parts measured apart.

Each part runs in its own child process against the Twilio fake (its own process, 0 ms):

- ``bare``: a bare aiohttp POST of the same form (``scale.py``'s baseline);
- ``channel``: ``SmsChannel.send`` alone — the twilio SDK's ``messages.create_async``
  through crisiscast's transport (traced session: exact "was it sent?"), classification and
  the ``Receipt``; no dispatcher, no audit;
- ``dispatch``: ``Dispatcher.dispatch`` with the SQLite audit (``synchronous=FULL``) and an
  in-memory channel whose ``send`` returns at once: planning, the limiter, the retry stage's
  first round, the three audit events per delivery (planned, attempt_started,
  attempt_succeeded; hash-chained, group-committed) — everything but the HTTP request.

All with 100 in flight; the bare POST on the standard asyncio loop, the crisiscast parts on
the loop crisiscast's processes use (``crisiscast.eventloop``: uvloop when installed; set
``CRISISCAST_EVENT_LOOP=asyncio`` for the standard one). Prints CPU per delivery (median of
``--runs``) and each part as a multiple of the bare POST. Usage::

    .venv/bin/python bench/cost_breakdown.py [--requests 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from common import APPROVAL, BENCH_DIR, Fakes, Stats, header, message, quiet_logs, run_child

CONCURRENCY = 100


async def child_channel(n: int, twilio_url: str) -> dict[str, Any]:
    from pydantic import SecretStr

    from crisiscast.channels.sms.channel import SmsChannel
    from crisiscast.config import Settings
    from crisiscast.delivery import Delivery
    from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS

    creds = SANDBOX_CREDENTIALS
    settings = Settings.model_validate(
        {
            "channels": {
                "sms": {
                    "api_base_url": twilio_url,
                    "account_sid": creds["account_sid"],
                    "messaging_service_sid": "MG00000000000000000000000000000000",
                }
            }
        }
    )
    channel = SmsChannel(settings, SecretStr(creds["auth_token"]))
    await channel.start()
    body = "Fire in Building B, level 3: evacuate the east wing now. Staff on level 3 east: move patients."

    async def run(count: int) -> float:
        todo = iter(range(count))

        async def worker() -> None:
            for i in todo:
                target = f"+1617{200 + i // 10_000:03d}{i % 10_000:04d}"
                await channel.send(Delivery("bench", "sms", target, 0, body), None)

        c = time.process_time()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.process_time() - c

    await run(500)
    cpu = await run(n)
    await channel.aclose()
    return {"cpu_per_delivery_ms": cpu * 1000.0 / n}


async def child_dispatch(n: int, directory: str) -> dict[str, Any]:
    from crisiscast.audit.open import open_store
    from crisiscast.channels.base import BaseChannel, ChannelLimits, RenderContext
    from crisiscast.delivery import Delivery, Receipt
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry

    class InstantSms(BaseChannel):
        """Renders N SMS deliveries; ``send`` answers at once (no I/O)."""

        name = "sms"
        public = False

        def __init__(self, count: int) -> None:
            self.count = count
            self.account = "sms:instant"
            self.limits = ChannelLimits(max_concurrency=CONCURRENCY, max_requests_per_s=None)

        def render(self, msg: Any, ctx: RenderContext) -> list[Delivery]:
            payload = {"rendered_at": ctx.now.isoformat(), "segments": 1, "encoding": "GSM-7"}
            body = "Fire in Building B, level 3: evacuate the east wing now."
            return [
                Delivery(
                    ctx.dispatch_id,
                    "sms",
                    f"+1617{200 + i // 10_000:03d}{i % 10_000:04d}",
                    0,
                    body,
                    payload=payload,
                )
                for i in range(self.count)
            ]

        async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
            await asyncio.sleep(0)
            return Receipt(provider_id="SM" + delivery.target[1:])

        async def reconcile(self, delivery: Delivery) -> Receipt | None:
            return None

    store = open_store(f"sqlite:///{directory}/audit.db")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        msg = message(channels=["sms"])
        await dispatcher.dispatch(msg, [InstantSms(500)], approval=APPROVAL)  # warm-up
        c = time.process_time()
        report = await dispatcher.dispatch(msg, [InstantSms(n)], approval=APPROVAL)
        cpu = time.process_time() - c
    finally:
        await store.close()
    assert report.channels["sms"].delivered == n
    return {"cpu_per_delivery_ms": cpu * 1000.0 / n}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    header(f"CPU per SMS delivery, by part ({args.requests:,} per run, {CONCURRENCY} in flight)")
    parts: dict[str, list[float]] = {"bare": [], "channel": [], "dispatch": []}
    with Fakes(0.0, ["twilio"]) as fakes:
        url = fakes.urls["twilio"]
        for _ in range(args.runs):
            fakes.reset()
            scale = str(BENCH_DIR / "scale.py")
            bare = run_child([scale, "--child-bare", str(args.requests), url, "asyncio"])
            parts["bare"].append(bare["cpu_per_request_ms"])
            fakes.reset()
            parts["channel"].append(
                run_child([__file__, "--child-channel", str(args.requests), url])["cpu_per_delivery_ms"]
            )
            with tempfile.TemporaryDirectory() as tmp:
                parts["dispatch"].append(
                    run_child([__file__, "--child-dispatch", str(args.requests), tmp])["cpu_per_delivery_ms"]
                )
    bare_ms = Stats.of(parts["bare"]).median
    labels = {
        "bare": "bare aiohttp POST",
        "channel": "SmsChannel.send (SDK path)",
        "dispatch": "dispatcher + audit, no HTTP",
    }
    for name, values in parts.items():
        stats = Stats.of(values)
        print(f"  {labels[name]:30s} {stats.fmt('ms')}   {stats.median / bare_ms:.2f}x bare")
    total = Stats.of(parts["channel"]).median + Stats.of(parts["dispatch"]).median
    print(f"  channel + dispatcher/audit     {total:.3f} ms   {total / bare_ms:.2f}x bare (P4 target 1.5x)")
    return {name: Stats.of(v).median for name, v in parts.items()}


def main() -> None:
    from crisiscast.eventloop import run as run_loop  # the loop crisiscast's processes use

    if len(sys.argv) > 1 and sys.argv[1] == "--child-channel":
        quiet_logs()
        print(json.dumps(run_loop(child_channel(int(sys.argv[2]), sys.argv[3]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-dispatch":
        quiet_logs()
        print(json.dumps(run_loop(child_dispatch(int(sys.argv[2]), sys.argv[3]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
