"""Run every benchmark (``make bench``) and print a summary of the targets P1–P7.

Each benchmark runs as its own process (its output streams through as it goes); the last
JSON line each prints (``--json``) feeds the summary. Needs the local Mosquitto
(127.0.0.1:1883) for P1 and Apprise (``pip install -e '.[bench]'``) for P2; a benchmark that
fails is reported as such and the others still run. ``--quick`` uses small numbers (a
smoke run of a minute or so, not the figures to quote). Takes a few minutes on 2 cores.

Usage: ``.venv/bin/python bench/run_all.py [--quick] [--skip NAME ...]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from common import BENCH_DIR, REPO, header, machine

FULL: dict[str, list[str]] = {
    "fanout": ["fanout.py", "--runs", "5"],
    "vs_apprise": ["vs_apprise.py", "--runs", "3", "--apprise-runs", "1"],
    "rate": ["rate.py", "--runs", "2"],
    "scale": ["scale.py", "--runs", "2", "--curve"],
    "cost_breakdown": ["cost_breakdown.py", "--runs", "3"],
    "webhook_latency": ["webhook_latency.py", "--alerts", "100"],
    "cli_start": ["cli_start.py", "--runs", "20"],
    "audit_verify": ["audit_verify.py", "1000000"],
    "forecast": ["forecast.py"],
    "whole_command": ["whole_command.py", "--runs", "5", "--alerts", "30"],
    "progress": ["progress.py", "--runs", "5"],
}
QUICK: dict[str, list[str]] = {
    "fanout": ["fanout.py", "--runs", "2", "--recipients", "200"],
    "vs_apprise": ["vs_apprise.py", "--runs", "1", "--recipients", "100", "--no-parallel"],
    "rate": ["rate.py", "--runs", "1", "--recipients", "200"],
    "scale": ["scale.py", "--runs", "1", "--recipients", "5000", "--bare-requests", "5000"],
    "cost_breakdown": ["cost_breakdown.py", "--runs", "1", "--requests", "2000"],
    "webhook_latency": ["webhook_latency.py", "--alerts", "20"],
    "cli_start": ["cli_start.py", "--runs", "5"],
    "audit_verify": ["audit_verify.py", "100000"],
    "forecast": ["forecast.py", "--sizes", "100", "1000"],
    "whole_command": ["whole_command.py", "--runs", "1", "--recipients", "100", "--alerts", "5"],
    "progress": ["progress.py", "--runs", "1", "--sizes", "1000"],
}


def run_one(args: list[str]) -> tuple[int, dict[str, Any] | None]:
    """Run one benchmark, streaming its output; returns (exit code, its last JSON line)."""
    cmd = [sys.executable, str(BENCH_DIR / args[0]), *args[1:]]
    if args[0] != "audit_verify.py":
        cmd.append("--json")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last: dict[str, Any] | None = None
    for line in proc.stdout:
        if line.startswith("{"):
            try:
                last = json.loads(line)
                continue
            except json.JSONDecodeError:
                pass
        print(line, end="", flush=True)
    return proc.wait(), last


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    p.add_argument("--skip", nargs="*", default=[], help="benchmarks to leave out (e.g. vs_apprise)")
    args = p.parse_args()
    plan = QUICK if args.quick else FULL
    print(f"crisiscast benchmarks on {machine()}{' (quick: smoke numbers only)' if args.quick else ''}")
    results: dict[str, tuple[int, dict[str, Any] | None, float]] = {}
    for name, bench in plan.items():
        if name in args.skip:
            continue
        started = time.monotonic()
        code, data = run_one(bench)
        results[name] = (code, data, time.monotonic() - started)
    header("Summary")
    for name, (code, data, seconds) in results.items():
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name:16s} {status:18s} {seconds:6.0f} s   {json.dumps(data) if data else ''}")
    sys.exit(0 if all(code == 0 for code, _, _ in results.values()) else 1)


if __name__ == "__main__":
    main()
