"""The arrival forecast against a measured dispatch: forecast vs actual time to the last SMS.

For each size (100, 1,000, 10,000 recipients) it dispatches one SMS alert through the real
dispatcher to the Twilio fake (its own process, ``--latency-ms`` per request) with
``max_requests_per_s`` R and ``burst`` B, and compares:

- **forecast**: ``crisiscast.preflight.forecast`` for that load. The fake hands a text over as
  soon as it accepts it (it does not pace by sender type), so the provider pace is set far
  above R and our own request limit R is what the forecast must get right;
- **actual**: from just before ``Dispatcher.dispatch`` (plan and persist included) to the last
  request's arrival at the fake plus its latency (the fake's clock is the shared monotonic one).

The error is (forecast − actual) / actual; the target is within ±25 %. Usage::

    .venv/bin/python bench/forecast.py [--sizes 100 1000 10000] [--rate 100] [--burst 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from common import Fakes, bench_settings, dispatch_once, header, machine, message, quiet_logs, verdict

UNPACED_SEGMENTS_PER_S = 1_000_000.0  # the fake accepts at once; only our limit paces


async def one_size(fakes: Fakes, n: int, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    from crisiscast.preflight.forecast import forecast_channel, sms_load
    from crisiscast.sandbox.runner import secrets_from_env

    settings = bench_settings(
        fakes.urls,
        directory / str(n),
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
    load = sms_load(n, 1, segments_per_s=UNPACED_SEGMENTS_PER_S, requests_per_s=args.rate)
    predicted = forecast_channel(load).max_s - load.latency_s + args.latency_ms / 1000.0
    error = (predicted - actual_s) / actual_s
    ok = abs(error) <= 0.25
    print(
        f"  {n:>6} recipients: forecast {predicted:7.2f} s, actual {actual_s:7.2f} s, "
        f"error {error:+.1%}   {verdict(ok)}",
        flush=True,
    )
    return {"recipients": n, "forecast_s": predicted, "actual_s": actual_s, "error": error, "ok": ok}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    header(
        f"Forecast vs actual: SMS at max_requests_per_s {args.rate:g}, burst {args.burst}, "
        f"latency {args.latency_ms:g} ms ({machine()})"
    )
    results = []
    with Fakes(args.latency_ms, ["twilio"]) as fakes, tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            (Path(tmp) / str(n)).mkdir()
            results.append(await one_size(fakes, n, args, Path(tmp)))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
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
