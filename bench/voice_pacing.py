"""Voice call pacing: how fast crisiscast starts calls at the account's calls-per-second.

Twilio starts 1 call per second per account by default, so the voice channel's
``max_requests_per_s`` defaults to 1.0 and its preview says how long the calls take to start.
This benchmark places ``--calls`` calls (default 20) through the real Dispatcher to the Twilio
fake in its own process (every call answered at once) at ``--rate`` calls/s (default 1.0,
burst 1), and prints, from the arrival times of ``POST …/Calls.json`` at the fake:

- the measured start rate, (calls − 1) / (last − first arrival), against the configured rate;
- the busiest 1 s window (at most rate + burst);
- the time the last call started after the first, against the preview's estimate;
- what that rate means for 500 and 2,000 people.

Figures are printed, never asserted. Usage::

    .venv/bin/python bench/voice_pacing.py [--calls 20] [--rate 1.0] [--runs 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from common import Fakes, bench_settings, dispatch_once, header, message, quiet_logs, report_problems
from rate import window_stats

SID = "AC00000000000000000000000000000000"
FROM = "+15005550006"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from crisiscast.channels.voice.preview import start_duration, start_time_s
    from crisiscast.sandbox.runner import secrets_from_env

    result: dict[str, Any] = {"calls": args.calls, "rate_per_s": args.rate, "runs": []}
    with Fakes(0.0, ["twilio"]) as fakes, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        settings = bench_settings(fakes.urls, directory, recipients=args.calls, mqtt=False)
        voice = {
            "api_base_url": fakes.urls["twilio"],
            "account_sid": SID,
            "from_number": FROM,
            "contacts": str(directory / "contacts.csv"),
            "max_requests_per_s": args.rate,
            "burst": 1,
            "max_concurrency": 50,
            "poll_interval_s": 0.05,
        }
        channels = settings.channels.model_copy(
            update={"voice": settings.channels.section("voice").model_copy(update=voice)}
        )
        settings = settings.model_copy(update={"channels": channels})
        secrets = secrets_from_env(fakes.env)
        header(
            f"Voice pacing: {args.calls} calls at {args.rate:g} call/s (burst 1), "
            "the Twilio fake answering at once"
        )
        for i in range(args.runs):
            fakes.reset()
            report, *_ = await dispatch_once(
                settings,
                secrets,
                message(channels=["voice"]),
                store_url=f"sqlite:///{directory / f'a{i}.db'}",
            )
            problems = report_problems(report)
            if problems:
                raise SystemExit("; ".join(problems))
            arrivals = sorted(
                r["at_s"]
                for r in fakes.requests("twilio")
                if r["method"] == "POST" and r["path"].endswith("/Calls.json")
            )
            busiest, mean = window_stats(arrivals)
            span_s = arrivals[-1] - arrivals[0]
            estimate_s = start_time_s(len(arrivals), args.rate)
            print(
                f"  run {i + 1}: {len(arrivals)} calls started over {span_s:.2f} s: "
                f"{mean:.3f} calls/s measured "
                f"(configured {args.rate:g}), busiest 1 s window {busiest}; "
                f"preview estimate {start_duration(estimate_s)}",
                flush=True,
            )
            result["runs"].append({"span_s": span_s, "measured_per_s": mean, "busiest_window": busiest})
        for people in (500, 2000):
            print(
                f"  {people} people at {args.rate:g} call/s: the last call starts after about "
                f"{start_duration(start_time_s(people, args.rate))}"
            )
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    quiet_logs()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
