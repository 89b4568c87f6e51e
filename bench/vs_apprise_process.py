"""P2, whole process against whole process: Apprise's Twilio plugin and ``crisiscast send``.

The fakes (X, Graph API, Twilio) run in their own process at ``--latency-ms`` (default 50 ms).

- **crisiscast**: the real console script, ``crisiscast send --template facility-fire … --yes``,
  to an X thread + Facebook + the banner + ``--recipients`` SMS (more than Apprise sends), audit
  on — by default through a warm ``crisiscast serve`` (``--server``, as ``whole_command.py
  --via-serve``), with ``--local`` as a process of its own that does everything itself.
- **Apprise** (``pip install -e '.[bench]'``): a Python process of its own
  (``--child-apprise``) that imports Apprise, points it at the fake (``vs_apprise.mount_fake``)
  and sends the same English text to the same numbers with ONE ``twilio://`` URL, as Apprise
  is configured for a list of numbers — with the plugin's shipped 0.2 s wait between two
  recipients (Apprise as it is), and once more with that wait switched off. Apprise 2 gives up
  on a service after 60 s (``service_timeout``), so one URL of 1,000 numbers never finishes
  with its own wait: that limit is lifted (``vs_apprise.apprise_run``).

Each figure runs from just before the process is started to the last request's arrival at the
fake plus the fake's answer time (the shared monotonic clock). Usage::

    .venv/bin/python bench/vs_apprise_process.py [--recipients 1000] [--runs 3] [--local]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from _fakes import BENCH_TWILIO_TOKEN
from common import Fakes, Stats, free_port, header, verdict
from whole_command import ROLES, one_send, serving, write_config


def child_apprise(spec_path: str) -> None:
    """The Apprise process: send ``spec``'s body to its numbers through the fake, then exit."""
    import logging

    from vs_apprise import apprise_run, mount_fake

    logging.basicConfig(level=logging.WARNING, format="apprise: %(message)s")  # why a send failed
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    mount_fake(spec["url"])
    apprise_run(spec["numbers"], spec["body"], spec["token"], throttle=spec["throttle"], parallel=False)


def apprise_process(fakes: Fakes, directory: Path, numbers: list[str], body: str, *, throttle: bool) -> float:
    fakes.reset()
    spec = directory / "apprise.json"
    spec.write_text(
        json.dumps(
            {
                "url": fakes.urls["twilio"],
                "numbers": numbers,
                "body": body,
                "token": BENCH_TWILIO_TOKEN,
                "throttle": throttle,
            }
        ),
        encoding="utf-8",
    )
    t0 = time.monotonic()
    subprocess.run([sys.executable, __file__, "--child-apprise", str(spec)], check=True, timeout=900)
    arrivals = [r["at_s"] for r in fakes.requests("twilio")]
    if len(arrivals) != len(numbers):
        raise SystemExit(f"the fake saw {len(arrivals)} of {len(numbers)} Apprise requests")
    return max(arrivals) - t0 + fakes.latency_ms / 1000.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import apprise  # noqa: F401
    except ImportError:
        print("Apprise is not installed: pip install -e '.[bench]' (skipped)")
        return {}
    how = "its own process" if args.local else "send --server (a warm crisiscast serve)"
    header(
        f"P2 whole process: {args.recipients:,} SMS, Apprise's process vs crisiscast ({how}), "
        f"fakes at {args.latency_ms:g} ms"
    )
    ours: list[float] = []
    with contextlib.ExitStack() as stack:
        fakes = stack.enter_context(Fakes(args.latency_ms, ROLES))
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        port = None if args.local else free_port()
        config = write_config(fakes.urls, directory, args.recipients, port)
        server = stack.enter_context(serving(config, fakes, port)) if port is not None else None
        for i in range(args.runs + 1):
            # the Twilio fake posts each text's delivery receipt to serve after the send: let the
            # previous run's 1,000 receipts be taken in before the next run is timed
            time.sleep(args.settle_s if i else 0.0)
            mine = one_send(fakes, config, directory, i, server)
            captured = mine.pop("captured")
            label = "warm-up" if i == 0 else f"run {i}"
            last, end = mine["last"], mine["exit"]
            print(f"  crisiscast {label}: last request {last:.3f} s, exit {end:.3f} s", flush=True)
            if i:
                ours.append(mine["last"])
        forms = [parse_qs(r["body"]) for r in captured["twilio"] if r["method"] == "POST"]
        numbers = [f["To"][0] for f in forms]
        body = forms[0]["Body"][0]  # Apprise sends one text to everyone: the English one
        theirs: dict[str, float] = {}
        for throttle in (False, True) if args.throttled else (False,):
            name = "shipped 0.2 s wait" if throttle else "wait switched off"
            theirs[name] = apprise_process(fakes, directory, numbers, body, throttle=throttle)
            print(f"  Apprise process ({name}): last request {theirs[name]:.2f} s", flush=True)
    o = Stats.of(ours)
    print(f"  crisiscast process, last request   {o.fmt()}")
    result: dict[str, Any] = {"crisiscast_last_s": o.median, "local": args.local}
    for name, wall in theirs.items():
        ratio = wall / o.median
        target = f"   target >= 200x: {verdict(ratio >= 200)}" if "shipped" in name else ""
        print(f"  Apprise ({name}) {wall:.2f} s: crisiscast {ratio:.0f}x faster{target}")
        result["apprise_shipped_s" if "shipped" in name else "apprise_unthrottled_s"] = wall
        result["ratio_shipped" if "shipped" in name else "ratio_unthrottled"] = ratio
    return result


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child-apprise":
        child_apprise(sys.argv[2])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--local", action="store_true", help="crisiscast send as its own process, no serve")
    p.add_argument("--settle-s", type=float, default=3.0, help="pause between two crisiscast runs")
    p.add_argument(
        "--no-throttled", dest="throttled", action="store_false", help="skip Apprise with its wait (~4 min)"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
