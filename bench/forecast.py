"""The arrival forecast against a measured dispatch: forecast vs actual time to the last SMS.

For each size (100, 1,000, 10,000 recipients) it dispatches one SMS alert through the real
dispatcher to the Twilio fake (its own process, ``--latency-ms`` per request) with
``max_requests_per_s`` R and ``burst`` B, and compares:

- **forecast**: ``crisiscast.preflight.forecast`` for that load, with the configured defaults of
  ``[preflight] dispatch_start_s`` and ``plan_s_per_recipient`` (the fixed start) and the
  limiter's burst and headroom. The fake hands a text over as soon as it accepts it (it does
  not pace by sender type), so the provider pace is set far above R and our own request limit
  R is what the forecast must get right;
- **actual**: from just before ``Dispatcher.dispatch`` (plan and persist included) to the last
  request's arrival at the fake plus its latency (the fake's clock is the shared monotonic one).

The error is (forecast − actual) / actual; the target is within ±25 %. With ``--runs N`` each
size is dispatched N times and the median, min and max are printed; "start" is the measured
fixed start (t0 to the first request's arrival). Usage::

    .venv/bin/python bench/forecast.py [--sizes 100 1000 10000] [--runs 3] [--rate 100] [--burst 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from common import Fakes, Stats, bench_settings, dispatch_once, header, machine, message, quiet_logs, verdict

UNPACED_SEGMENTS_PER_S = 1_000_000.0  # the fake accepts at once; only our limit paces


async def one_run(fakes: Fakes, n: int, args: argparse.Namespace, directory: Path) -> dict[str, float]:
    from crisiscast.preflight.forecast import forecast_channel, sms_load, start_s_for
    from crisiscast.sandbox.runner import secrets_from_env

    settings = bench_settings(
        fakes.urls,
        directory,
        recipients=n,
        sms_concurrency=50,
        sms_max_requests_per_s=args.rate,
        sms_burst=args.burst,
        mqtt=False,
    )
    secrets = secrets_from_env(fakes.env)
    fakes.reset()
    report, t0, _, _ = await dispatch_once(settings, secrets, message(channels=["sms"]))
    sms = report.channels["sms"]
    if sms.delivered != sms.planned:
        raise SystemExit(f"only {sms.delivered} of {sms.planned} delivered")
    posts = [r["at_s"] for r in fakes.requests("twilio") if r["method"] == "POST"]
    actual_s = max(posts) + args.latency_ms / 1000.0 - t0
    pre = settings.preflight
    start_s = start_s_for(
        n, dispatch_start_s=pre.dispatch_start_s, plan_s_per_recipient=pre.plan_s_per_recipient
    )
    load = sms_load(
        n,
        1,
        segments_per_s=UNPACED_SEGMENTS_PER_S,
        requests_per_s=args.rate,
        burst=args.burst,
        start_s=start_s,
    )
    predicted = forecast_channel(load).max_s - load.latency_s + args.latency_ms / 1000.0
    return {"forecast_s": predicted, "actual_s": actual_s, "start_s": min(posts) - t0}


async def one_size(fakes: Fakes, n: int, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    runs = []
    for i in range(args.runs):
        (directory / f"{n}-{i}").mkdir()
        runs.append(await one_run(fakes, n, args, directory / f"{n}-{i}"))
    predicted = runs[0]["forecast_s"]
    actual, start = Stats.of(r["actual_s"] for r in runs), Stats.of(r["start_s"] for r in runs)
    errors = Stats.of((predicted - r["actual_s"]) / r["actual_s"] for r in runs)
    ok = max(abs(errors.min), abs(errors.max)) <= 0.25
    print(
        f"  {n:>6} recipients: forecast {predicted:7.2f} s, actual {actual.median:7.2f} s "
        f"({actual.min:.2f}-{actual.max:.2f}), start {start.median:.3f} s ({start.min:.3f}-{start.max:.3f}), "
        f"error {errors.median:+.1%} ({errors.min:+.1%} to {errors.max:+.1%}), "
        f"{len(runs)} runs   {verdict(ok)}",
        flush=True,
    )
    return {
        "recipients": n,
        "forecast_s": predicted,
        "actual_s": [r["actual_s"] for r in runs],
        "start_s": [r["start_s"] for r in runs],
        "error": errors.median,
        "ok": ok,
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    header(
        f"Forecast vs actual: SMS at max_requests_per_s {args.rate:g}, burst {args.burst}, "
        f"latency {args.latency_ms:g} ms ({machine()})"
    )
    results = []
    with Fakes(args.latency_ms, ["twilio"]) as fakes, tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            results.append(await one_size(fakes, n, args, Path(tmp)))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--runs", type=int, default=1, help="dispatches per size (median, min, max)")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--burst", type=int, default=10)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    quiet_logs()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps({"sizes": results, "ok": all(r["ok"] for r in results)}))


if __name__ == "__main__":
    main()
