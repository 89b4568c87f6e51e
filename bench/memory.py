"""Memory and CPU against the audience size: 1k, 10k and 100k SMS recipients, phase by phase.

Two processes, so that nothing is counted twice: the sandbox Twilio fake (``bench/_fakes.py``,
0 ms latency) and the dispatcher (this script with ``--child N``, one fresh process per size,
so every peak is that size's own). The child uses the SQLite audit (a file,
``synchronous=FULL``), SMS concurrency 100, no requests-per-second cap, and times five phases
one after the other:

- ``contacts``: build the SMS channel (reads and checks the contacts CSV);
- ``render``:   render the message into one delivery per recipient (``render_all``);
- ``plan``:     persist the plan (``crisiscast.dispatch.chunks.write_plan``: the dispatch,
  the approval and every delivery, ``[store] plan_chunk_size`` deliveries per transaction);
- ``fan-out``:  ``Dispatcher.run`` (every SMS sent to the fake, every attempt audited);
- ``report``:   what is read back afterwards: the stored deliveries counted page by page
  (``crisiscast.audit.paging.count_states``), then the after-action report's facts
  (``crisiscast.report.model.build_report``: verified events only);
- ``verify``:   ``crisiscast audit verify`` (``verify_evidence`` with the views: the chain
  walked, the dispatches and deliveries rebuilt from the events and compared page by page).

For each phase: CPU (``time.process_time``, every thread of the process, so the audit's SQLite
commit thread is included) per recipient in microseconds, and the process's peak RSS
(``ru_maxrss``, a high-water mark) when the phase ends. The dispatcher's ``dispatch`` path
overlaps plan and fan-out (the first chunk is sent while later chunks are written); the
phases are run apart here so each one's cost can be seen.

Targets (issue 19): peak RSS ≤ 200 MB at 100,000 recipients; per-recipient CPU of each phase
at 10k and 100k within ±15 %. Usage::

    .venv/bin/python bench/memory.py [--sizes 1000,10000,100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import APPROVAL, Fakes, bench_settings, header, machine, message, quiet_logs, run_child, verdict

PHASES = ("contacts", "render", "plan", "fan-out", "report", "verify")
RSS_TARGET_MB = 200.0
FLAT_TOLERANCE = 0.15


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def child(n: int, twilio_url: str, directory: Path) -> dict[str, Any]:
    from crisiscast.audit.evidence import verify_evidence
    from crisiscast.audit.open import open_store
    from crisiscast.audit.paging import count_states
    from crisiscast.channels.base import RenderContext
    from crisiscast.channels.sms.channel import build
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.chunks import write_plan
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.dispatch.plan import Plan, new_dispatch_id, render_all
    from crisiscast.report.model import build_report
    from crisiscast.sandbox.runner import secrets_from_env
    from crisiscast.sandbox.twilio import sandbox_env

    settings = bench_settings(
        {"twilio": twilio_url}, directory, recipients=n, sms_concurrency=100, mqtt=False
    )
    secrets = secrets_from_env(sandbox_env())
    msg = message(channels=["sms"])
    phases: dict[str, dict[str, float]] = {}
    started = [time.perf_counter(), time.process_time()]

    def mark(name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        phases[name] = {
            "wall_s": wall - started[0],
            "cpu_us_per_recipient": (cpu - started[1]) * 1e6 / n,
            "peak_rss_mb": _peak_rss_mb(),
        }
        started[:] = [time.perf_counter(), time.process_time()]

    rss_start = _peak_rss_mb()
    started[:] = [time.perf_counter(), time.process_time()]
    channel = build(settings, secrets, exercise=False)
    mark("contacts")
    dispatch_id = new_dispatch_id()
    by_name, deliveries, failed = render_all(msg, [channel], RenderContext(dispatch_id=dispatch_id))
    plan = Plan(dispatch_id, msg, by_name, deliveries, approval=dict(APPROVAL), failed=failed)
    mark("render")
    store = open_store(f"sqlite:///{directory / 'audit.db'}")
    await store.open()
    try:
        started[:] = [time.perf_counter(), time.process_time()]
        await write_plan(store, plan, chunk_size=settings.store.plan_chunk_size)
        mark("plan")
        report = await Dispatcher(store, limiters=LimiterRegistry()).run(plan)
        del plan, deliveries, by_name
        mark("fan-out")
        counts = await count_states(store, dispatch_id)
        states = {state.value: n for state, n in counts["sms"].items()}
        facts = await build_report(store, [dispatch_id], now=datetime.now(UTC))
        reach = facts.dispatches[0].channels["sms"].delivered if facts.dispatches else 0
        del facts
        mark("report")
        evidence = await verify_evidence(store, [], None, views=True)
        mark("verify")
    finally:
        await store.close()
    sms = report.channels["sms"]
    return {
        "n": n,
        "delivered": sms.delivered,
        "stored_states": states,
        "report_delivered": reach,
        "verified": evidence.ok,
        "rss_start_mb": rss_start,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": phases,
    }


def _flat(small: dict[str, Any], large: dict[str, Any], phase: str) -> float:
    """Relative change of a phase's per-recipient CPU from ``small`` to ``large``."""
    a = small["phases"][phase]["cpu_us_per_recipient"]
    b = large["phases"][phase]["cpu_us_per_recipient"]
    return (b - a) / a if a else 0.0


def run(sizes: list[int]) -> list[dict[str, Any]]:
    header(f"Memory and CPU against the audience ({machine()})")
    print("  SMS only, 0 ms Twilio fake in its own process, SQLite audit (synchronous=FULL), concurrency 100")
    results = []
    with Fakes(0.0, ["twilio"]) as fakes:
        for n in sizes:
            fakes.reset()
            with tempfile.TemporaryDirectory() as tmp:
                result = run_child([__file__, "--child", str(n), fakes.urls["twilio"], tmp], timeout_s=3600)
            if result["delivered"] != n or result["report_delivered"] != n or not result["verified"]:
                raise SystemExit(f"{n}: not every delivery delivered, reported and verified: {result}")
            results.append(result)
            cells = "  ".join(
                f"{p} {result['phases'][p]['cpu_us_per_recipient']:7.1f} µs "
                f"({result['phases'][p]['peak_rss_mb']:5.0f} MB)"
                for p in PHASES
            )
            print(f"  {n:>7,}: peak RSS {result['peak_rss_mb']:6.1f} MB | CPU/recipient {cells}", flush=True)
    big = results[-1]
    print(
        f"  peak RSS at {big['n']:,}: {big['peak_rss_mb']:.0f} MB   "
        f"target <= {RSS_TARGET_MB:.0f} MB: {verdict(big['peak_rss_mb'] <= RSS_TARGET_MB)}"
    )
    if len(results) >= 2:
        small = results[-2]
        for phase in PHASES:
            change = _flat(small, big, phase)
            print(
                f"  {phase:>8} CPU/recipient {small['n']:,} -> {big['n']:,}: {change:+.0%}   "
                f"flat within ±{FLAT_TOLERANCE:.0%}: {verdict(abs(change) <= FLAT_TOLERANCE)}"
            )
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from crisiscast.eventloop import run as run_loop

        quiet_logs()
        print(json.dumps(run_loop(child(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated recipient counts")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = run([int(s) for s in args.sizes.split(",")])
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
