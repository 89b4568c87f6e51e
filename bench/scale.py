"""P4 scale: N SMS recipients (default 50,000) against a 0 ms Twilio fake; and the cost curve.

Three processes, so that nothing is counted twice: the Twilio fake (``bench/_fakes.py``),
the dispatcher (this script with ``--child-dispatch``) and the bare client (this script with
``--child-bare``). Each child measures itself and prints one JSON line:

- dispatcher: builds the SMS channel (reads the contacts CSV: timed apart), then ONE
  ``Dispatcher.dispatch`` with the audit on (SQLite file, ``synchronous=FULL``), SMS
  concurrency 100, no requests-per-second cap. Reports wall time, process CPU
  (``time.process_time``: every thread, so the audit writer's SQLite thread is included) per
  delivery, and peak RSS (``ru_maxrss`` of the dispatcher process only);
- bare: one ``aiohttp.ClientSession``, the same form (``To``, ``Body``,
  ``MessagingServiceSid``, ``ValidityPeriod``, ``SmartEncoded``) with the same Basic auth to
  the same fake, 100 in flight, read + ``json.loads`` of every answer; CPU per request.

The dispatcher child runs on the loop crisiscast's own processes use
(``crisiscast.eventloop``: uvloop when installed; ``--loop asyncio`` forces the standard
one). The bare client runs on the standard asyncio loop (the target's baseline) AND on
uvloop, both in every run, so the ratio is printed against each.

Prints the medians over ``--runs`` runs and the ratio CPU per delivery / CPU per bare POST
(targets P4: peak RSS ≤ 300 MB, ratio ≤ 1.5× against the bare POST on the standard loop).
``--curve`` runs 1k, 10k and 50k once each (time and memory against recipients, for
docs/performance.md; the 50k point is the P4 run with the median CPU). Usage::

    .venv/bin/python bench/scale.py [--recipients 50000] [--runs 3] [--curve] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import APPROVAL, Fakes, Stats, bench_settings, header, message, quiet_logs, run_child, verdict

SID = "AC00000000000000000000000000000000"
MG = "MG00000000000000000000000000000000"
CONCURRENCY = 100


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def child_dispatch(n: int, twilio_url: str, directory: Path) -> dict[str, Any]:
    from crisiscast.audit.open import open_store
    from crisiscast.channels.sms.channel import build
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.sandbox.runner import secrets_from_env
    from crisiscast.sandbox.twilio import sandbox_env

    settings = bench_settings(
        {"twilio": twilio_url}, directory, recipients=n, sms_concurrency=CONCURRENCY, mqtt=False
    )
    secrets = secrets_from_env(sandbox_env())
    msg = message(channels=["sms"])
    rss_before = _rss_mb()
    t, c = time.perf_counter(), time.process_time()
    channel = build(settings, secrets, exercise=False)
    contacts_s, contacts_cpu = time.perf_counter() - t, time.process_time() - c
    store = open_store(f"sqlite:///{directory / 'audit.db'}")
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        t, c = time.perf_counter(), time.process_time()
        report = await dispatcher.dispatch(msg, [channel], approval=APPROVAL)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        commits = getattr(store, "commits", 0)
    finally:
        await store.close()
    sms = report.channels["sms"]
    from crisiscast.eventloop import loop_name

    return {
        "n": n,
        "loop": loop_name(),
        "delivered": sms.delivered,
        "planned": sms.planned,
        "attempts": sms.attempts,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_delivery_ms": cpu * 1000.0 / max(1, sms.delivered),
        "audit_commits": commits,
        "contacts_s": contacts_s,
        "contacts_cpu_s": contacts_cpu,
        "rss_start_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


async def child_bare(n: int, twilio_url: str) -> dict[str, Any]:
    import base64

    import aiohttp

    from crisiscast.sandbox.twilio import SANDBOX_CREDENTIALS

    token = SANDBOX_CREDENTIALS["auth_token"]
    auth = "Basic " + base64.b64encode(f"{SID}:{token}".encode()).decode()
    url = f"{twilio_url}/2010-04-01/Accounts/{SID}/Messages.json"
    body = "Fire in Building B, level 3: evacuate the east wing now. Staff on level 3 east: move patients."
    statuses: dict[int, int] = {}

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        form = {
            "To": f"+1617{200 + i // 10_000:03d}{i % 10_000:04d}",
            "Body": body,
            "MessagingServiceSid": MG,
            "ValidityPeriod": "3600",
            "SmartEncoded": "true",
        }
        async with session.post(url, data=form) as resp:
            json.loads(await resp.read())
            statuses[resp.status] = statuses.get(resp.status, 0) + 1

    async def run(count: int) -> tuple[float, float]:
        todo = iter(range(count))
        async with aiohttp.ClientSession(
            headers={"Authorization": auth}, connector=aiohttp.TCPConnector(limit=CONCURRENCY)
        ) as session:

            async def worker() -> None:
                for i in todo:
                    await one(session, i)

            t, c = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - t, time.process_time() - c

    await run(500)  # warm-up
    statuses.clear()
    wall, cpu = await run(n)
    return {"n": n, "wall_s": wall, "cpu_per_request_ms": cpu * 1000.0 / n, "statuses": statuses}


def measure(
    fakes: Fakes, n: int, bare_n: int, *, loop: str = "default", bare_uvloop: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One crisiscast dispatch, then the bare POSTs on asyncio's loop (and on uvloop)."""
    env = {"CRISISCAST_EVENT_LOOP": "asyncio"} if loop == "asyncio" else {}
    fakes.reset()
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_child([__file__, "--child-dispatch", str(n), fakes.urls["twilio"], tmp], env=env)
    fakes.reset()
    bare = run_child([__file__, "--child-bare", str(bare_n), fakes.urls["twilio"], "asyncio"])
    if bare_uvloop:
        fakes.reset()
        uv = run_child([__file__, "--child-bare", str(bare_n), fakes.urls["twilio"], "uvloop"])
        bare["uvloop_cpu_per_request_ms"] = uv["cpu_per_request_ms"]
    fakes.reset()
    if ours["delivered"] != n:
        raise SystemExit(f"crisiscast delivered {ours['delivered']} of {n}")
    return ours, bare


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with Fakes(0.0, ["twilio"]) as fakes:
        n = args.recipients
        header(f"P4 scale: {n:,} SMS recipients, 0 ms fake, concurrency {CONCURRENCY}, audit on (SQLite)")
        rows = []
        for i in range(args.runs):
            ours, bare = measure(fakes, n, min(n, args.bare_requests), loop=args.loop)
            ratio = ours["cpu_per_delivery_ms"] / bare["cpu_per_request_ms"]
            rows.append((ours, bare, ratio))
            print(
                f"  run {i + 1}: wall {ours['wall_s']:.2f} s, "
                f"CPU/delivery {ours['cpu_per_delivery_ms']:.3f} ms ({ours['loop']}), "
                f"bare POST CPU {bare['cpu_per_request_ms']:.3f} ms (asyncio) / "
                f"{bare['uvloop_cpu_per_request_ms']:.3f} ms (uvloop), ratio {ratio:.2f}x, "
                f"peak RSS {ours['peak_rss_mb']:.0f} MB (contacts file read in {ours['contacts_s']:.2f} s; "
                f"{ours['audit_commits']:,} audit commits)",
                flush=True,
            )
        wall = Stats.of(r[0]["wall_s"] for r in rows)
        cpu = Stats.of(r[0]["cpu_per_delivery_ms"] for r in rows)
        bare_cpu = Stats.of(r[1]["cpu_per_request_ms"] for r in rows)
        bare_uv = Stats.of(r[1]["uvloop_cpu_per_request_ms"] for r in rows)
        ratio = Stats.of(r[2] for r in rows)
        ratio_uv = Stats.of(r[0]["cpu_per_delivery_ms"] / r[1]["uvloop_cpu_per_request_ms"] for r in rows)
        rss = Stats.of(r[0]["peak_rss_mb"] for r in rows)
        print(f"  wall time                  {wall.fmt()}  ({n / wall.median:,.0f} deliveries/s)")
        print(f"  CPU per delivery           {cpu.fmt('ms')}  (crisiscast on {rows[0][0]['loop']})")
        print(f"  CPU per bare aiohttp POST  {bare_cpu.fmt('ms')}  (standard asyncio loop)")
        print(f"  same, on uvloop            {bare_uv.fmt('ms')}")
        print(
            f"  ratio (vs asyncio bare)    {ratio.fmt('x', 2)}   "
            f"target <= 1.5x: {verdict(ratio.median <= 1.5)}"
        )
        print(f"  ratio (vs uvloop bare)     {ratio_uv.fmt('x', 2)}")
        print(
            f"  peak RSS (dispatcher)      {rss.fmt('MB', 0)}   target <= 300 MB: {verdict(rss.max <= 300)}"
        )
        result["p4"] = {
            "n": n,
            "wall_s": wall.median,
            "cpu_per_delivery_ms": cpu.median,
            "loop": rows[0][0]["loop"],
            "bare_cpu_ms": bare_cpu.median,
            "bare_uvloop_cpu_ms": bare_uv.median,
            "ratio": ratio.median,
            "ratio_vs_uvloop_bare": ratio_uv.median,
            "peak_rss_mb": rss.max,
        }
        if args.curve:
            header("Cost curve: time and memory against recipients (SMS only, 0 ms fake, audit on)")
            print(
                f"  {'recipients':>10} {'wall s':>8} {'deliv/s':>9} {'CPU ms/deliv':>13} {'peak RSS MB':>12}"
            )
            curve = []
            for m in (1_000, 10_000, 50_000):
                if m == n:  # the P4 runs above: their median-CPU run
                    ours = sorted((r[0] for r in rows), key=lambda o: o["cpu_per_delivery_ms"])[
                        len(rows) // 2
                    ]
                else:
                    ours, _ = measure(fakes, m, 1000, loop=args.loop, bare_uvloop=False)
                curve.append(ours)
                print(
                    f"  {m:>10,} {ours['wall_s']:>8.2f} {m / ours['wall_s']:>9,.0f} "
                    f"{ours['cpu_per_delivery_ms']:>13.3f} {ours['peak_rss_mb']:>12.0f}",
                    flush=True,
                )
            result["curve"] = curve
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-dispatch":
        from crisiscast.eventloop import run as run_loop  # the loop crisiscast's processes use

        quiet_logs()
        print(json.dumps(run_loop(child_dispatch(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-bare":
        factory = None
        if sys.argv[4] == "uvloop":
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            print(json.dumps(runner.run(child_bare(int(sys.argv[2]), sys.argv[3]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=50_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--bare-requests", type=int, default=20_000, help="bare POSTs timed per run")
    p.add_argument("--curve", action="store_true", help="also 1k, 10k, 50k once each")
    p.add_argument(
        "--loop",
        choices=["default", "asyncio"],
        default="default",
        help="crisiscast's loop: its default (uvloop when installed) or the standard asyncio loop",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
