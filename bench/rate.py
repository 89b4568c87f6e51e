"""P3 rate compliance, from the arrival times the Twilio fake records (its own process).

1. **Limit**: SMS to ``--recipients`` (600) with ``max_requests_per_s`` R (100) and ``burst``
   B (10), concurrency 50, fake latency 20 ms. Over the arrivals: the most requests in any
   1 s window (every window starting at an arrival; must be ≤ R + B) and the mean rate
   (requests − 1) / (last − first arrival) (must be ≥ 0.95 R).
2. **Retry-After**: the same dispatch; one second in, the fake is told to answer the next
   request ``429`` with Twilio's 20429 body and ``Retry-After: X`` (2 s). Every request that
   arrives later than 20 ms after the 429 left the fake (time for requests already on the
   wire) and before X s after it is a violation (must be 0); prints the actual pause.

Each part runs ``--runs`` times; prints per run and the worst case. Usage::

    .venv/bin/python bench/rate.py [--recipients 600] [--rate 100] [--burst 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import tempfile
from pathlib import Path
from typing import Any

from common import Fakes, bench_settings, dispatch_once, header, message, quiet_logs, verdict

LATENCY_MS = 20.0
IN_FLIGHT_SLACK_S = 0.02


def window_stats(arrivals: list[float]) -> tuple[int, float]:
    """(most arrivals in any 1 s window starting at an arrival, mean rate over the run)."""
    arrivals = sorted(arrivals)
    most = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    span = arrivals[-1] - arrivals[0]
    return most, (len(arrivals) - 1) / span if span > 0 else float("inf")


async def one_run(
    fakes: Fakes, settings: Any, secrets: Any, store_url: str, retry_after_s: int | None
) -> Any:
    msg = message(channels=["sms"])
    fakes.reset()

    async def inject() -> None:
        await asyncio.sleep(1.0)  # a benchmark's scripted moment, not a wait for a condition
        await asyncio.to_thread(
            fakes.fault,
            "twilio",
            scripted=[{"status": 429, "headers": {"Retry-After": str(retry_after_s)}}],
        )

    task = asyncio.create_task(inject()) if retry_after_s else None
    report, *_ = await dispatch_once(settings, secrets, msg, store_url=store_url)
    if task is not None:
        await task
    sms = report.channels["sms"]
    if sms.delivered != sms.planned:
        raise SystemExit(f"only {sms.delivered} of {sms.planned} delivered")
    posts = [r for r in fakes.requests("twilio") if r["method"] == "POST"]
    return posts


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from crisiscast.sandbox.runner import secrets_from_env

    result: dict[str, Any] = {}
    r, b = args.rate, args.burst
    with Fakes(LATENCY_MS, ["twilio"]) as fakes, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        settings = bench_settings(
            fakes.urls,
            directory,
            recipients=args.recipients,
            sms_concurrency=50,
            sms_max_requests_per_s=r,
            sms_burst=b,
            mqtt=False,
        )
        secrets = secrets_from_env(fakes.env)
        header(f"P3 rate limit: {args.recipients} SMS, max_requests_per_s {r:g}, burst {b}, latency 20 ms")
        worst_window, worst_mean = 0, float("inf")
        for i in range(args.runs):
            posts = await one_run(fakes, settings, secrets, f"sqlite:///{directory / f'a{i}.db'}", None)
            most, mean = window_stats([p["at_s"] for p in posts])
            worst_window, worst_mean = max(worst_window, most), min(worst_mean, mean)
            print(
                f"  run {i + 1}: {len(posts)} requests, busiest 1 s window {most}, mean {mean:.1f}/s",
                flush=True,
            )
        ok = worst_window <= r + b and worst_mean >= 0.95 * r
        print(
            f"  worst: busiest window {worst_window} (limit R + burst = {r + b:g}), "
            f"lowest mean {worst_mean:.1f}/s (>= {0.95 * r:.1f})   {verdict(ok)}"
        )
        result["limit"] = {"busiest_window": worst_window, "mean_per_s": worst_mean, "ok": ok}

        x = args.retry_after_s
        header(f"P3 Retry-After: a 429 with Retry-After: {x} one second into the same dispatch")
        violations_total, pauses = 0, []
        for i in range(args.runs):
            posts = await one_run(fakes, settings, secrets, f"sqlite:///{directory / f'b{i}.db'}", x)
            throttled = [p for p in posts if p["status"] == 429]
            if not throttled:
                raise SystemExit("the fake never answered 429")
            answered = throttled[0]["at_s"] + LATENCY_MS / 1000.0
            later = sorted(p["at_s"] for p in posts if p["at_s"] > answered + IN_FLIGHT_SLACK_S)
            violations = sum(1 for t in later if t < answered + x)
            pause = (later[0] - answered) if later else float("nan")
            violations_total += violations
            pauses.append(pause)
            print(f"  run {i + 1}: next request {pause:.3f} s after the 429, {violations} inside the pause")
        ok = violations_total == 0
        print(f"  requests inside any Retry-After pause: {violations_total}   {verdict(ok)}")
        result["retry_after"] = {"violations": violations_total, "pauses_s": pauses, "ok": ok}
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=600)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--burst", type=int, default=10)
    p.add_argument("--retry-after-s", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    quiet_logs()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
