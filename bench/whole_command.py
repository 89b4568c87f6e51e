"""The commander's whole command: ``crisiscast send --template … --yes`` as a PROCESS, and ``serve``.

Part 1 — CLI. The fakes (X, Graph API, Twilio) run in their own process at ``--latency-ms``
(default 50 ms). Each run starts the real console script::

    crisiscast --config C send --template facility-fire --var location=… --yes --json

to an X thread + Facebook + the banner file + ``--recipients`` SMS (default 1,000, SMS
concurrency 100, no requests-per-second cap), audit on (SQLite file). ``t0`` is
``time.monotonic()`` just before the process is started; the figures are the first and the
last request's arrival at the fakes (their monotonic clock is ours) minus ``t0``, and the
process's exit. Then, in the same run, the **floor**: ``bench/_floor_child.py``, a bare
aiohttp process replaying exactly the requests crisiscast made (the X thread in order,
Facebook, the SMS under one semaphore) and writing the same banner — process start included.

The phases come from ``CRISISCAST_PHASE_LOG`` (``crisiscast.phases``): the end of imports
(the console script's ``main``), configuration, template rendering, preview, the plan
persisted, fan-out done, report printed — each printed as its own duration.

Part 2 — ``serve``: ``bench/webhook_latency.py`` with ``--webhook-recipients`` (default 300)
contacts: signed webhook → 202, and → first provider request (fakes at 0 ms).

Medians of ``--runs`` (default 5) with min–max; ratios per run. Usage::

    .venv/bin/python bench/whole_command.py [--runs 5] [--recipients 1000] [--alerts 30]
        [--cold-contacts] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import BENCH_DIR, Fakes, Stats, bench_settings, free_port, header, serve_process, verdict

ROLES = ("x", "graph", "twilio")
SERVE_TOKEN = "bench-commander-token-0123456789abcdef"
PHASES = ("imports", "config", "render", "preview", "plan", "fanout", "report", "request", "answer")
PHASE_TEXT = {
    "imports": "interpreter + CLI imports",
    "config": "configuration + secrets",
    "render": "template rendered, policy",
    "preview": "preview built and shown",
    "plan": "draft, approval, plan persisted",
    "fanout": "fan-out (every delivery)",
    "report": "report printed",
    "request": "--server: request about to leave",
    "answer": "--server: serve answered (planned)",
}


def _without_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_none(v) for k, v in data.items() if v is not None}
    return data


def write_config(urls: dict[str, str], directory: Path, recipients: int, port: int | None = None) -> Path:
    from crisiscast.cli.demo_run import to_toml

    # no SMS requests-per-second cap (TOML has no "none"; 100,000/s never binds at 50 ms)
    settings = bench_settings(
        urls, directory, recipients=recipients, mqtt=False, sms_max_requests_per_s=100_000.0, sms_burst=100
    )
    raw = _without_none(settings.model_dump(mode="json"))
    if port is not None:
        raw["server"]["port"] = port
    config = directory / "crisiscast.toml"
    config.write_text(to_toml(raw), encoding="utf-8")
    return config


@contextlib.contextmanager
def serving(config: Path, fakes: Fakes, port: int) -> Iterator[str]:
    """``crisiscast serve`` on ``config`` as its own process, warm (healthy) before it is used;
    a person's token for the bench in ``CRISISCAST_API_TOKENS``. Yields its base URL."""
    env = {**os.environ, **fakes.env, "CRISISCAST_API_TOKENS": f"bench-commander={SERVE_TOKEN}"}
    with serve_process(config, port, env) as base:
        yield base


def _arrivals(fakes: Fakes) -> tuple[dict[str, list[dict[str, Any]]], list[float]]:
    captured = {role: fakes.requests(role) for role in fakes.urls}
    return captured, [r["at_s"] for reqs in captured.values() for r in reqs]


def one_send(
    fakes: Fakes, config: Path, directory: Path, run: int, server: str | None = None
) -> dict[str, Any]:
    """One ``crisiscast send`` process (``--server``: handed to a running ``serve``); first/last
    arrival, exit, phase ends (s after ``t0``)."""
    fakes.reset()
    phase_log = directory / f"phases-{run}.json"
    env = {**os.environ, **fakes.env, "CRISISCAST_PHASE_LOG": str(phase_log)}
    if server is not None:
        env["CRISISCAST_API_TOKEN"] = SERVE_TOKEN
    cmd = [
        str(Path(sys.executable).with_name("crisiscast")),
        "--config",
        str(config),
        "send",
        "--template",
        "facility-fire",
        "--var",
        f"location=Building B, floor {run % 9 + 1}",
        "--yes",
        "--json",
        *(["--server", server] if server is not None else []),
    ]
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)
    t_exit = time.monotonic() - t0
    if out.returncode != 0:
        raise SystemExit(
            f"crisiscast send failed ({out.returncode}): {out.stderr[-2000:]}{out.stdout[-2000:]}"
        )
    captured, arrivals = _arrivals(fakes)
    marks = json.loads(phase_log.read_text()) if phase_log.exists() else []
    return {
        "first": min(arrivals) - t0,
        "last": max(arrivals) - t0 + fakes.latency_ms / 1000.0,
        "exit": t_exit,
        "requests": len(arrivals),
        "phases": {name: at - t0 for name, at in marks},
        "captured": captured,
    }


def one_floor(fakes: Fakes, captured: dict[str, Any], directory: Path, concurrency: int) -> dict[str, float]:
    fakes.reset()
    banner = directory / "banner.json"
    spec = {
        "urls": fakes.urls,
        "captured": captured,
        "concurrency": concurrency,
        "banner_path": str(directory / "banner-floor.json"),
        "banner": banner.read_text(encoding="utf-8") if banner.exists() else "{}",
    }
    spec_path = directory / "floor.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, str(BENCH_DIR / "_floor_child.py"), str(spec_path)], check=True, timeout=300
    )
    t_exit = time.monotonic() - t0
    _, arrivals = _arrivals(fakes)
    return {
        "first": min(arrivals) - t0,
        "last": max(arrivals) - t0 + fakes.latency_ms / 1000.0,
        "exit": t_exit,
    }


def cli_part(args: argparse.Namespace) -> dict[str, Any]:
    how = "--server (a warm crisiscast serve)" if args.via_serve else "--yes"
    header(
        f"Whole command: crisiscast send --template … {how}, X thread + Facebook + banner + "
        f"{args.recipients:,} SMS, fakes at {args.latency_ms:g} ms in their own process, audit on, "
        f"contacts cache {'emptied before each run' if args.cold_contacts else 'warm'}"
    )
    ours: list[dict[str, Any]] = []
    bare: list[dict[str, float]] = []
    with contextlib.ExitStack() as stack:
        fakes = stack.enter_context(Fakes(args.latency_ms, ROLES))
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        port = free_port() if args.via_serve else None
        config = write_config(fakes.urls, directory, args.recipients, port)
        server = stack.enter_context(serving(config, fakes, port)) if port is not None else None
        # run 0 warms the page cache (bytecode, contacts file) and fills the contacts cache
        # ([store] contacts_cache_dir); --cold-contacts empties that cache before every run
        for i in range(args.runs + 1):
            if args.cold_contacts:
                shutil.rmtree(directory / "var" / "crisiscast" / "contacts-cache", ignore_errors=True)
            mine = one_send(fakes, config, directory, i, server)
            floor = one_floor(fakes, mine.pop("captured"), directory, 100)
            label = "warm-up" if i == 0 else f"run {i}"
            print(
                f"  {label:8s} crisiscast first {mine['first']:.3f} s, last {mine['last']:.3f} s, "
                f"exit {mine['exit']:.3f} s ({mine['requests']} requests)   "
                f"floor first {floor['first']:.3f} s, last {floor['last']:.3f} s",
                flush=True,
            )
            if i:
                ours.append(mine)
                bare.append(floor)
    first = Stats.of(r["first"] for r in ours)
    last = Stats.of(r["last"] for r in ours)
    floor_first = Stats.of(f["first"] for f in bare)
    floor_last = Stats.of(f["last"] for f in bare)
    ratio = Stats.of(r["last"] / f["last"] for r, f in zip(ours, bare, strict=True))
    print(f"  first provider request     {first.fmt()}   target <= 0.3 s: {verdict(first.median <= 0.3)}")
    print(f"  last provider request      {last.fmt()}")
    print(f"  process exit               {Stats.of(r['exit'] for r in ours).fmt()}")
    print(f"  floor first request        {floor_first.fmt()}")
    print(f"  floor last request         {floor_last.fmt()}")
    print(f"  last / floor last (per run) {ratio.fmt('x', 2)}   target <= 2x: {verdict(ratio.median <= 2.0)}")
    print("  where the time goes (each phase's own duration; median, min-max):")
    durations: dict[str, Stats] = {}
    for run in ours:
        run["durations"] = _durations(run["phases"])
    for name in PHASES:
        values = [run["durations"][name] for run in ours if name in run["durations"]]
        if values:
            durations[name] = Stats.of(values)
            print(f"    {PHASE_TEXT[name]:34s} {durations[name].fmt()}")
    after_answer = [r["first"] - r["phases"]["answer"] for r in ours if "answer" in r["phases"]]
    if after_answer:
        print(f"    {'serve answered -> first request':34s} {Stats.of(after_answer).fmt()}")
    return {
        "recipients": args.recipients,
        "first_s": first.median,
        "first_min_s": first.min,
        "first_max_s": first.max,
        "last_s": last.median,
        "floor_first_s": floor_first.median,
        "floor_last_s": floor_last.median,
        "last_ratio": ratio.median,
        "last_ratio_min": ratio.min,
        "last_ratio_max": ratio.max,
        "phases_s": {name: s.median for name, s in durations.items()},
    }


def _durations(phases: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    previous = 0.0
    for name in PHASES:
        if name in phases:
            out[name] = phases[name] - previous
            previous = phases[name]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--alerts", type=int, default=30, help="webhooks sent to serve (0: skip part 2)")
    p.add_argument("--webhook-recipients", type=int, default=300)
    p.add_argument(
        "--cold-contacts",
        action="store_true",
        help="empty the contacts cache before each send (the first send after the file changed)",
    )
    p.add_argument(
        "--via-serve",
        action="store_true",
        help="send --server: hand each send to a crisiscast serve started (warm) before the runs",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result: dict[str, Any] = {"cli": cli_part(args)}
    if args.alerts:
        import webhook_latency

        result["serve"] = webhook_latency.run(
            argparse.Namespace(
                alerts=args.alerts, recipients=args.webhook_recipients, sms_max_requests_per_s=None
            )
        )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
