"""Memory and CPU against the audience size: 1k, 10k and 100k SMS recipients, phase by phase.

The sandbox Twilio fake runs in its own process (``bench/_fakes.py``, 0 ms latency), and each
measured step in a fresh process of its own, so every peak RSS (``ru_maxrss``, a high-water
mark) is that step's alone and nothing is counted twice. Per size, three children:

1. ``--child-phases``: the send, one phase after the other, on the SQLite audit (a file,
   ``synchronous=FULL``), SMS concurrency 100, no requests-per-second cap:

   - ``contacts``: build the SMS channel (reads and checks the contacts CSV);
   - ``render``:   one delivery per recipient (``render_all``);
   - ``plan``:     persist the plan (``crisiscast.dispatch.chunks.write_plan``: the dispatch,
     the approval and every delivery, ``[store] plan_chunk_size`` deliveries a transaction);
   - ``fan-out``:  ``Dispatcher.run`` (every SMS sent to the fake, every attempt audited).

2. ``--child-send``: the same send as the CLI makes it, ``Dispatcher.dispatch`` (plan
   streamed: the first chunk is sent while later chunks are written) after the contacts:
   the peak RSS of a real 100,000-recipient dispatch.

3. ``--child-review`` (on the audit the first child wrote):

   - ``report``: the stored deliveries counted page by page (``count_states``), then the
     after-action report's facts (``crisiscast.report.model.build_report``);
   - ``verify``: ``crisiscast audit verify`` (``verify_evidence`` with the views).

4. ``--child-resume`` (``crisiscast resume`` of one dispatch, ``Dispatcher.resume`` with the
   channel built as a resume builds it): once on the finished audit of the first child (nothing
   is left to send: every delivery is only counted), and once on a plan written by
   ``--child-planned`` (contacts, render and plan, then the process ends as if it had crashed
   before its first text: every delivery is sent by the resume).

For each phase: CPU (``time.process_time``, every thread of the process, the audit's SQLite
commit thread included) per recipient in microseconds, and the process's peak RSS when the
phase ends. Targets (issue 19): peak RSS ≤ 200 MB at 100,000 recipients; per-recipient CPU of
each phase at 10k and 100k within ±15 %. Usage::

    .venv/bin/python bench/memory.py [--sizes 1000,10000,100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import APPROVAL, Fakes, bench_settings, header, machine, message, quiet_logs, run_child, verdict

PHASES = ("contacts", "render", "plan", "fan-out", "report", "verify")
RSS_TARGET_MB = 200.0
FLAT_TOLERANCE = 0.15


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _phases(n: int) -> tuple[dict[str, dict[str, float]], Callable[[str], None]]:
    """A phase table and ``mark(name)``: the CPU, wall time and peak RSS since the last mark."""
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

    return phases, mark


def _sms(settings_dir: Path, n: int, twilio_url: str) -> tuple[Any, Any, Any]:
    from crisiscast.sandbox.runner import secrets_from_env
    from crisiscast.sandbox.twilio import sandbox_env

    settings = bench_settings(
        {"twilio": twilio_url}, settings_dir, recipients=n, sms_concurrency=100, mqtt=False
    )
    return settings, secrets_from_env(sandbox_env()), message(channels=["sms"])


async def child_phases(n: int, twilio_url: str, directory: Path) -> dict[str, Any]:
    from crisiscast.audit.open import open_store
    from crisiscast.channels.base import RenderContext
    from crisiscast.channels.sms.channel import build
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.chunks import write_plan
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.dispatch.plan import Plan, new_dispatch_id, render_all

    settings, secrets, msg = _sms(directory, n, twilio_url)
    rss_start = _peak_rss_mb()
    phases, mark = _phases(n)
    channel = build(settings, secrets, exercise=False)
    mark("contacts")
    dispatch_id = new_dispatch_id()
    by_name, deliveries, failed = render_all(msg, [channel], RenderContext(dispatch_id=dispatch_id))
    plan = Plan(dispatch_id, msg, by_name, deliveries, approval=dict(APPROVAL), failed=failed)
    mark("render")
    store = open_store(f"sqlite:///{directory / 'audit.db'}")
    await store.open()
    try:
        mark("open")  # not a phase: opening the store
        await write_plan(store, plan, chunk_size=settings.store.plan_chunk_size)
        mark("plan")
        report = await Dispatcher(store, limiters=LimiterRegistry()).run(plan)
        mark("fan-out")
    finally:
        await store.close()
    del phases["open"]
    return {
        "dispatch_id": dispatch_id,
        "delivered": report.channels["sms"].delivered,
        "rss_start_mb": rss_start,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": phases,
    }


async def child_send(n: int, twilio_url: str, directory: Path) -> dict[str, Any]:
    from crisiscast.audit.open import open_store
    from crisiscast.channels.sms.channel import build
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry

    settings, secrets, msg = _sms(directory, n, twilio_url)
    phases, mark = _phases(n)
    channel = build(settings, secrets, exercise=False)
    mark("contacts")
    store = open_store(f"sqlite:///{directory / 'send.db'}")
    await store.open()
    try:
        dispatcher = Dispatcher(
            store, limiters=LimiterRegistry(), plan_chunk_size=settings.store.plan_chunk_size
        )
        report = await dispatcher.dispatch(msg, [channel], approval=APPROVAL)
        mark("dispatch")
    finally:
        await store.close()
    return {"delivered": report.channels["sms"].delivered, "peak_rss_mb": _peak_rss_mb(), "phases": phases}


async def child_planned(n: int, directory: Path) -> dict[str, Any]:
    """Contacts, render and the plan persisted, then stop: a crash before the first text."""
    from crisiscast.audit.open import open_store
    from crisiscast.channels.base import RenderContext
    from crisiscast.channels.sms.channel import build
    from crisiscast.dispatch.chunks import write_plan
    from crisiscast.dispatch.plan import Plan, new_dispatch_id, render_all

    settings, secrets, msg = _sms(directory, n, "http://127.0.0.1:1")
    channel = build(settings, secrets, exercise=False)
    dispatch_id = new_dispatch_id()
    by_name, deliveries, failed = render_all(msg, [channel], RenderContext(dispatch_id=dispatch_id))
    plan = Plan(dispatch_id, msg, by_name, deliveries, approval=dict(APPROVAL), failed=failed)
    store = open_store(f"sqlite:///{directory / 'planned.db'}")
    await store.open()
    try:
        await write_plan(store, plan, chunk_size=settings.store.plan_chunk_size)
    finally:
        await store.close()
    return {"dispatch_id": dispatch_id}


async def child_resume(n: int, twilio_url: str, directory: Path, db: str, dispatch_id: str) -> dict[str, Any]:
    """``Dispatcher.resume`` of ``dispatch_id`` in ``db``, its channels built as ``resume`` builds them."""
    from crisiscast.audit.open import open_store
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.limiter import LimiterRegistry
    from crisiscast.dispatch.resume import FirstRequest, resume_unfinished

    settings, secrets, _ = _sms(directory, n, twilio_url)
    phases, mark = _phases(n)
    store = open_store(f"sqlite:///{directory / db}")
    await store.open()
    try:
        dispatcher = Dispatcher(
            store, limiters=LimiterRegistry(), plan_chunk_size=settings.store.plan_chunk_size
        )
        first = FirstRequest()  # process start -> first provider request, as `resume --timing`
        (resumed,) = await resume_unfinished(
            settings, secrets, dispatcher, dispatch_id=dispatch_id, first_request=first
        )
        mark("resume")
    finally:
        await store.close()
    sms = resumed.report.channels["sms"]
    return {
        "delivered": sms.delivered,
        "planned": sms.planned,
        "first_request_s": first.since_start_s,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": phases,
    }


async def child_review(n: int, directory: Path, dispatch_id: str) -> dict[str, Any]:
    from crisiscast.audit.evidence import verify_evidence
    from crisiscast.audit.open import open_store
    from crisiscast.audit.paging import count_states
    from crisiscast.report.model import build_report

    store = open_store(f"sqlite:///{directory / 'audit.db'}")
    await store.open()
    try:
        phases, mark = _phases(n)
        counts = await count_states(store, dispatch_id)
        facts = await build_report(store, [dispatch_id], now=datetime.now(UTC))
        reach = facts.dispatches[0].channels["sms"].delivered if facts.dispatches else 0
        del facts
        mark("report")
        evidence = await verify_evidence(store, [], None, views=True)
        mark("verify")
    finally:
        await store.close()
    return {
        "stored_states": {state.value: k for state, k in counts.get("sms", {}).items()},
        "report_delivered": reach,
        "verified": evidence.ok,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": phases,
    }


async def child_count(twilio_url: str) -> dict[str, Any]:
    """How many requests the fake at ``twilio_url`` has logged."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(twilio_url + "/_sandbox/requests") as resp:
        return {"requests": len(await resp.json())}


def _flat(small: dict[str, Any], large: dict[str, Any], phase: str) -> float:
    """Relative change of a phase's per-recipient CPU from ``small`` to ``large``."""
    a = small["phases"][phase]["cpu_us_per_recipient"]
    b = large["phases"][phase]["cpu_us_per_recipient"]
    return (b - a) / a if a else 0.0


def measure(fakes: Fakes, n: int) -> dict[str, Any]:
    """One size: the phases, the review of their audit, and the streamed send, each a process."""
    url = fakes.urls["twilio"]
    with tempfile.TemporaryDirectory() as tmp:
        fakes.reset()
        sent = run_child([__file__, "--child-phases", str(n), url, tmp], timeout_s=3600)
        review = run_child([__file__, "--child-review", str(n), tmp, sent["dispatch_id"]], timeout_s=3600)
        finished = run_child(
            [__file__, "--child-resume", str(n), url, tmp, "audit.db", sent["dispatch_id"]], timeout_s=3600
        )
        fakes.reset()
        planned = run_child([__file__, "--child-planned", str(n), tmp], timeout_s=3600)
        resumed = run_child(
            [__file__, "--child-resume", str(n), url, tmp, "planned.db", planned["dispatch_id"]],
            timeout_s=3600,
        )
        # counted in a child: the log of 100,000 requests would raise this process's RSS, and a
        # child starts with its parent's peak RSS as its own (ru_maxrss survives fork and exec)
        sent_by_resume = run_child([__file__, "--child-count", url])["requests"]
        fakes.reset()
        whole = run_child([__file__, "--child-send", str(n), url, tmp], timeout_s=3600)
    resumes = (finished, resumed)
    if any(r["delivered"] != n or r["planned"] != n for r in resumes) or sent_by_resume != n:
        raise SystemExit(
            f"{n}: a resume did not account for every delivery: {resumes}, {sent_by_resume} sent"
        )
    ok = sent["delivered"] == whole["delivered"] == review["report_delivered"] == n and review["verified"]
    if not ok or review["stored_states"] != {"delivered": n}:
        raise SystemExit(f"{n}: not every delivery delivered, reported and verified: {sent} {review} {whole}")
    return {
        "n": n,
        "phases": {**sent["phases"], **review["phases"]},
        "peak_rss_mb": {
            "phases": sent["peak_rss_mb"],
            "review": review["peak_rss_mb"],
            "send": whole["peak_rss_mb"],
        },
        "send": whole["phases"],
        "resume": {
            "nothing left": {"peak_rss_mb": finished["peak_rss_mb"], **finished["phases"]["resume"]},
            "all pending": {
                "peak_rss_mb": resumed["peak_rss_mb"],
                "first_request_s": resumed["first_request_s"],
                **resumed["phases"]["resume"],
            },
        },
        "rss_start_mb": sent["rss_start_mb"],
    }


def run(sizes: list[int]) -> list[dict[str, Any]]:
    header(f"Memory and CPU against the audience ({machine()})")
    print("  SMS only, 0 ms Twilio fake in its own process, SQLite audit (synchronous=FULL), concurrency 100")
    print("  CPU per recipient (µs) and the process's peak RSS (MB) at the end of each phase:")
    print(f"  {'recipients':>10} " + " ".join(f"{p:>16}" for p in PHASES) + f" {'send (streamed)':>16}")
    results = []
    with Fakes(0.0, ["twilio"]) as fakes:
        for n in sizes:
            r = measure(fakes, n)
            results.append(r)
            cells = " ".join(
                f"{r['phases'][p]['cpu_us_per_recipient']:7.1f} ({r['phases'][p]['peak_rss_mb']:4.0f} MB)"
                for p in PHASES
            )
            send_cpu, send_mb = r["send"]["dispatch"]["cpu_us_per_recipient"], r["peak_rss_mb"]["send"]
            print(f"  {n:>10,} {cells} {send_cpu:7.1f} ({send_mb:4.0f} MB)", flush=True)
    print("  crisiscast resume of one dispatch, its own process: CPU per recipient (µs), peak RSS (MB):")
    for r in results:
        cells = "   ".join(
            f"{case}: {v['cpu_us_per_recipient']:7.1f} ({v['peak_rss_mb']:4.0f} MB)"
            for case, v in r["resume"].items()
        )
        first = r["resume"]["all pending"]["first_request_s"]
        print(f"  {r['n']:>10,} {cells}   all pending: process start -> first text {first:.2f} s", flush=True)
    big = results[-1]
    peaks = big["peak_rss_mb"]
    resume_peak = max(v["peak_rss_mb"] for v in big["resume"].values())
    print(
        f"  peak RSS at {big['n']:,}: the send {peaks['send']:.0f} MB "
        f"(phases apart {peaks['phases']:.0f} MB), "
        f"report + verify {peaks['review']:.0f} MB, resume {resume_peak:.0f} MB   "
        f"target <= {RSS_TARGET_MB:.0f} MB: {verdict(max(*peaks.values(), resume_peak) <= RSS_TARGET_MB)}"
    )
    if len(results) >= 2:
        small = results[-2]
        for phase in PHASES:
            change = _flat(small, big, phase)
            rises = "rises" if change > FLAT_TOLERANCE else "no rise"  # a hidden quadratic step rises
            print(
                f"  {phase:>8} CPU/recipient {small['n']:,} -> {big['n']:,}: {change:+.0%}   "
                f"within ±{FLAT_TOLERANCE:.0%}: {verdict(abs(change) <= FLAT_TOLERANCE)} ({rises})"
            )
    return results


def main() -> None:
    children: dict[str, Callable[[list[str]], Any]] = {
        "--child-phases": lambda a: child_phases(int(a[0]), a[1], Path(a[2])),
        "--child-send": lambda a: child_send(int(a[0]), a[1], Path(a[2])),
        "--child-review": lambda a: child_review(int(a[0]), Path(a[1]), a[2]),
        "--child-planned": lambda a: child_planned(int(a[0]), Path(a[1])),
        "--child-resume": lambda a: child_resume(int(a[0]), a[1], Path(a[2]), a[3], a[4]),
        "--child-count": lambda a: child_count(a[0]),
    }
    if len(sys.argv) > 1 and sys.argv[1] in children:
        from crisiscast.eventloop import run as run_loop

        quiet_logs()
        print(json.dumps(run_loop(children[sys.argv[1]](sys.argv[2:]))))
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
