"""P1 fan-out: crisiscast end to end against the physical floor (a bare aiohttp gather).

One Actual alert to X (a thread) + Facebook + the banner file + MQTT (the local Mosquitto)
+ N SMS recipients, with the fakes answering after ``--latency-ms`` (default 50 ms) in their
own process, SMS concurrency ``--concurrency`` (default 100, no requests-per-second cap), and
the audit ON (SQLite file, ``synchronous=FULL``: every ``attempt_started`` fsynced before its
request leaves).

Each run, in this order:

1. crisiscast: ``Dispatcher.dispatch`` (render, persist the plan, fan out, record every
   attempt and outcome, finish) — timed from the call to its return;
2. the floor: the SAME requests crisiscast's run made (method, path, body, auth header, read
   back from the fakes' request logs) replayed with one ``aiohttp.ClientSession`` — the X
   thread in order, Facebook, the SMS through an ``asyncio.Semaphore(concurrency)`` —
   gathered with one MQTT publish of the same document (QoS 1, retained) and one atomic,
   fsynced write of the same banner file. No audit, no retries, no classification.

Both also get "last provider arrival": the last request's arrival at the fakes (their
monotonic clock is the same as ours) minus the start, plus the fake latency.
Prints the median/min/max of ``--runs`` runs and the ratio crisiscast / floor (target
P1 ≤ 1.25×). Usage::

    .venv/bin/python bench/fanout.py [--recipients 1000] [--runs 5] [--latency-ms 50]
                                     [--concurrency 100] [--no-mqtt] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _replay import Replayer
from common import (
    MQTT_URL,
    Fakes,
    Stats,
    bench_settings,
    clear_mqtt,
    dispatch_once,
    header,
    message,
    quiet_logs,
    report_problems,
    verdict,
)

ROLES = ("x", "graph", "twilio")


async def floor(
    fakes: Fakes,
    captured: dict[str, list[dict[str, Any]]],
    *,
    concurrency: int,
    banner_path: Path | None,
    mqtt_topic: str | None,
    document: bytes,
) -> tuple[float, float, list[int]]:
    """Replay ``captured`` bare; returns (wall s, last arrival offset s, non-2xx statuses)."""
    replayer = Replayer(fakes.urls, captured, concurrency)

    async def mqtt() -> None:
        if mqtt_topic is None:
            return
        import aiomqtt

        host, _, port = MQTT_URL.removeprefix("mqtt://").partition(":")
        async with aiomqtt.Client(host, int(port or 1883)) as client:
            await client.publish(mqtt_topic, document, qos=1, retain=True)

    def write_banner() -> None:
        if banner_path is None:
            return
        tmp = banner_path.with_name(banner_path.name + ".floor.tmp")
        with open(tmp, "wb") as f:
            f.write(document)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, banner_path)
        fd = os.open(banner_path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    t0 = time.monotonic()
    async with replayer.session() as session:
        await asyncio.gather(
            replayer.in_order(session, "x"),
            replayer.in_order(session, "graph"),
            replayer.sms(session),
            mqtt(),
            asyncio.to_thread(write_banner),
        )
    wall = time.monotonic() - t0
    return wall, _last_arrival(fakes, t0), replayer.statuses


def _last_arrival(fakes: Fakes, t0: float) -> float:
    arrivals = [r["at_s"] for role in fakes.urls for r in fakes.requests(role)]
    return (max(arrivals) - t0 + fakes.latency_ms / 1000.0) if arrivals else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from crisiscast.channels.mqtt.channel import alert_topic
    from crisiscast.sandbox.runner import secrets_from_env

    header(
        f"P1 fan-out: X + Facebook + banner + {'MQTT + ' if args.mqtt else ''}{args.recipients:,} SMS, "
        f"fake latency {args.latency_ms:g} ms, SMS concurrency {args.concurrency}, audit on (SQLite)"
    )
    ours: list[float] = []
    ours_last: list[float] = []
    bare: list[float] = []
    bare_last: list[float] = []
    with Fakes(args.latency_ms, ROLES) as fakes, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        settings = bench_settings(
            fakes.urls,
            directory,
            recipients=args.recipients,
            sms_concurrency=args.concurrency,
            mqtt=args.mqtt,
        )
        secrets = secrets_from_env(fakes.env)
        msg = message()
        try:
            for i in range(args.runs + 1):  # run 0 warms up (imports, first connections)
                fakes.reset()
                store_url = f"sqlite:///{directory / f'audit-{i}.db'}"
                report, t0, t_end, _ = await dispatch_once(settings, secrets, msg, store_url=store_url)
                problems = report_problems(report)
                if problems:
                    raise SystemExit("crisiscast run did not deliver everything: " + "; ".join(problems))
                captured = {role: fakes.requests(role) for role in fakes.urls}
                last = _last_arrival(fakes, t0)
                banner = directory / "banner.json"
                document = banner.read_bytes()
                fakes.reset()
                f_wall, f_last, bad = await floor(
                    fakes,
                    captured,
                    concurrency=args.concurrency,
                    banner_path=banner,
                    mqtt_topic=alert_topic(settings.channels.mqtt.topic_prefix) if args.mqtt else None,
                    document=document,
                )
                if bad:
                    print(f"  note: the floor's replay got {len(bad)} non-2xx answers: {sorted(set(bad))}")
                label = "warm-up" if i == 0 else f"run {i}"
                n_req = sum(len(v) for v in captured.values())
                print(
                    f"  {label:8s} crisiscast {t_end - t0:.3f} s (last arrival {last:.3f} s)   "
                    f"floor {f_wall:.3f} s (last arrival {f_last:.3f} s)   {n_req} HTTP requests",
                    flush=True,
                )
                if i:
                    ours.append(t_end - t0)
                    ours_last.append(last)
                    bare.append(f_wall)
                    bare_last.append(f_last)
        finally:
            if args.mqtt:
                await clear_mqtt(settings)
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    ratio = Stats.of(ratios)
    last_ratio = Stats.of(o / b for o, b in zip(ours_last, bare_last, strict=True))
    print(f"  crisiscast end to end      {Stats.of(ours).fmt()}")
    print(f"  floor (bare aiohttp)       {Stats.of(bare).fmt()}")
    print(
        f"  ratio (per run)            {ratio.fmt('x', 2)}   target <= 1.25x: {verdict(ratio.median <= 1.25)}"
    )
    print(f"  ratio to last arrival      {last_ratio.fmt('x', 2)}")
    return {
        "recipients": args.recipients,
        "crisiscast_s": Stats.of(ours).median,
        "floor_s": Stats.of(bare).median,
        "ratio": ratio.median,
        "ratio_min": ratio.min,
        "ratio_max": ratio.max,
        "ratio_last_arrival": last_ratio.median,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--no-mqtt", dest="mqtt", action="store_false")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = p.parse_args()
    quiet_logs()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
