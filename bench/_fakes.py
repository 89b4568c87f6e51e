"""Run the sandbox fakes (X, Graph API, Twilio) in this process until stdin closes.

Started by ``bench/common.py`` as a child process so that the fakes' CPU and memory are never
counted as crisiscast's. Prints ONE JSON line on stdout once every fake listens::

    {"urls": {"x": "http://127.0.0.1:…", …}, "env": {"CRISISCAST_…": "…"}, "pid": 1234}

then serves until its stdin is closed (the parent exited or called ``Fakes.close``) or it
gets SIGTERM. Latency and faults are set over each fake's control API
(``POST /_sandbox/faults``, ``POST /_sandbox/reset``, ``GET /_sandbox/requests``).

Usage: ``python bench/_fakes.py [latency_ms] [role ...]`` (default roles: x, graph, twilio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys

BENCH_TWILIO_SID = "AC" + "be" * 16
BENCH_TWILIO_TOKEN = "bench0twilio0token" + "0" * 14


async def main(latency_ms: float, roles: list[str]) -> None:
    from crisiscast.sandbox import graph, twilio, x
    from crisiscast.sandbox.common import FakeProvider

    fakes: dict[str, FakeProvider] = {}
    urls: dict[str, str] = {}
    env: dict[str, str] = {}
    for role in roles:
        if role == "x":
            fakes[role], more = x.FakeX(), x.sandbox_env()
        elif role == "graph":
            fakes[role], more = graph.FakeGraph(), graph.sandbox_env()
        elif role == "twilio":
            # a second account whose token is alphanumeric, as Apprise's Twilio plugin requires
            sandbox = twilio.SANDBOX_CREDENTIALS
            accounts = {sandbox["account_sid"]: sandbox["auth_token"], BENCH_TWILIO_SID: BENCH_TWILIO_TOKEN}
            fakes[role], more = twilio.FakeTwilio(accounts=accounts, refuse={}), twilio.sandbox_env()
        else:
            raise SystemExit(f"unknown fake {role!r}")
        fakes[role].faults.latency_s = latency_ms / 1000.0
        urls[role] = await fakes[role].start()
        env.update(more)
    print(json.dumps({"urls": urls, "env": env, "pid": os.getpid()}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    stdin = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(stdin, 4096):  # EOF: the parent is gone or done
            loop.remove_reader(stdin)
            stop.set()

    loop.add_reader(stdin, on_stdin)
    try:
        await stop.wait()
    finally:
        for fake in fakes.values():
            await fake.stop()


if __name__ == "__main__":
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    wanted = sys.argv[2:] or ["x", "graph", "twilio"]
    asyncio.run(main(latency, wanted))
