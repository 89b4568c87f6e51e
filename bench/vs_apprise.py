"""P2: the same 1,000 SMS through Apprise's Twilio plugin and through crisiscast, same fake.

Both send to the Twilio fake (its own process, ``--latency-ms``, default 50 ms as in P1).

- **crisiscast**: an SMS-only ``Dispatcher.dispatch`` with the audit on (SQLite), SMS
  concurrency 100, no requests-per-second cap; timed from the call to its return.
- **Apprise** (``pip install -e '.[bench]'``): ONE ``twilio://`` URL listing every recipient,
  ``Apprise.notify(body)`` — how Apprise is configured for a list of numbers. Apprise
  hard-codes ``https://api.twilio.com``; this script points it at the fake by mounting a
  ``requests`` transport adapter for that origin (``TwilioFakeAdapter``: it rewrites
  ``https://api.twilio.com/…`` to ``http://127.0.0.1:PORT/…`` and sends through the normal
  ``HTTPAdapter``; requests never leave 127.0.0.1). Nothing else in Apprise is changed, except:
  its Twilio plugin waits ``request_rate_per_sec`` = 0.2 s between two recipients (its own
  throttle); by default that wait is switched OFF, which only makes Apprise faster, so the
  ratio printed is a LOWER bound. ``--apprise-throttle`` keeps it (adds ~200 s per 1,000).
  The fake accepts Apprise's ``From`` number like crisiscast's Messaging Service.

Also prints Apprise at its most parallel: one URL per recipient, so Apprise's own thread
pool sends them concurrently (``--no-parallel`` skips it).

Usage::

    .venv/bin/python bench/vs_apprise.py [--recipients 1000] [--runs 3] [--apprise-runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from _fakes import BENCH_TWILIO_SID as SID
from _fakes import BENCH_TWILIO_TOKEN
from common import Fakes, Stats, bench_settings, dispatch_once, header, message, quiet_logs, verdict

FROM = "+16175550100"
TWILIO_ORIGIN = "https://api.twilio.com"


def mount_fake(base_url: str) -> None:
    """Make every ``requests`` session send ``https://api.twilio.com/…`` to ``base_url``."""
    import requests
    from requests.adapters import HTTPAdapter

    class TwilioFakeAdapter(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            request.url = base_url + request.url[len(TWILIO_ORIGIN) :]
            kwargs["verify"] = False
            return super().send(request, **kwargs)

    adapter = TwilioFakeAdapter()
    original_init = requests.Session.__init__

    def init(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.mount(TWILIO_ORIGIN, adapter)

    requests.Session.__init__ = init  # type: ignore[method-assign]


def apprise_run(numbers: list[str], body: str, token: str, *, throttle: bool, parallel: bool) -> float:
    import apprise
    from apprise.plugins.twilio import NotifyTwilio

    if not throttle:
        NotifyTwilio.request_rate_per_sec = 0
    # Apprise 2 gives up on a service after 60 s (``service_timeout``): one URL of 1,000 numbers
    # never finishes within it with the plugin's own wait, so the limit is lifted (0: none).
    limited = hasattr(apprise.AppriseAsset, "_service_timeout")  # Apprise 2 and later
    a = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0)) if limited else apprise.Apprise()
    if parallel:
        for n in numbers:
            a.add(f"twilio://{SID}:{token}@{FROM}/{n}")
    else:
        a.add(f"twilio://{SID}:{token}@{FROM}/" + "/".join(numbers))
    t0 = time.monotonic()
    ok = a.notify(body=body)
    wall = time.monotonic() - t0
    if not ok:
        raise SystemExit("Apprise reported a failed notification")
    return wall


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from crisiscast.sandbox.runner import secrets_from_env

    try:
        import apprise  # noqa: F401
    except ImportError:
        print("Apprise is not installed: pip install -e '.[bench]' (skipped)")
        return {}
    import logging

    logging.getLogger("apprise").setLevel(logging.ERROR)
    header(
        f"P2 versus Apprise: {args.recipients:,} SMS through the Twilio fake (latency {args.latency_ms:g} ms)"
    )
    ours: list[float] = []
    theirs: list[float] = []
    parallel: list[float] = []
    with Fakes(args.latency_ms, ["twilio"]) as fakes, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        settings = bench_settings(fakes.urls, directory, recipients=args.recipients, mqtt=False)
        secrets = secrets_from_env(fakes.env)
        msg = message(channels=["sms"])
        mount_fake(fakes.urls["twilio"])
        for i in range(args.runs + 1):
            fakes.reset()
            report, t0, t_end, _ = await dispatch_once(
                settings, secrets, msg, store_url=f"sqlite:///{directory / f'audit-{i}.db'}"
            )
            sms = report.channels["sms"]
            assert sms.delivered == args.recipients, sms
            if i:
                ours.append(t_end - t0)
            print(f"  crisiscast {'warm-up' if not i else f'run {i}'}: {t_end - t0:.3f} s", flush=True)
        forms = [parse_qs(r["body"]) for r in fakes.requests("twilio")]
        numbers = [f["To"][0] for f in forms]
        body = forms[0]["Body"][0]  # the English text (Apprise sends one text to everyone)
        token = BENCH_TWILIO_TOKEN
        for i in range(args.apprise_runs):
            fakes.reset()
            wall = await asyncio.to_thread(
                apprise_run, numbers, body, token, throttle=args.apprise_throttle, parallel=False
            )
            got = len(fakes.requests("twilio"))
            assert got == len(numbers), f"the fake saw {got} of {len(numbers)} Apprise requests"
            theirs.append(wall)
            print(f"  Apprise (one URL, {len(numbers):,} targets) run {i + 1}: {wall:.2f} s", flush=True)
        if args.parallel:
            fakes.reset()
            wall = await asyncio.to_thread(apprise_run, numbers, body, token, throttle=False, parallel=True)
            parallel.append(wall)
            print(f"  Apprise (one URL per recipient, its thread pool): {wall:.2f} s", flush=True)
    o, t = Stats.of(ours), Stats.of(theirs)
    ratio = t.median / o.median
    print(f"  crisiscast                 {o.fmt()}")
    print(f"  Apprise                    {t.fmt()}")
    throttle_note = "" if args.apprise_throttle else " (Apprise's 0.2 s throttle off: a lower bound)"
    print(f"  crisiscast is {ratio:.0f}x faster{throttle_note}   target >= 50x: {verdict(ratio >= 50)}")
    result = {"crisiscast_s": o.median, "apprise_s": t.median, "ratio": ratio}
    if parallel:
        print(f"  versus Apprise's most parallel set-up: {parallel[0] / o.median:.0f}x faster")
        result["apprise_parallel_s"] = parallel[0]
        result["ratio_parallel"] = parallel[0] / o.median
    if not args.apprise_throttle:
        shipped = t.median + 0.2 * (args.recipients - 1)
        print(
            f"  with Apprise's shipped throttle it would take >= {shipped:.0f} s ({shipped / o.median:.0f}x)"
        )
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--apprise-runs", type=int, default=1)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--apprise-throttle", action="store_true", help="keep Apprise's 0.2 s per-recipient wait")
    p.add_argument("--no-parallel", dest="parallel", action="store_false")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    quiet_logs()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
