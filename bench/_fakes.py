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


async def main(latency_ms: float, roles: list[str]) -> None:
    from crisiscast.config import Settings
    from crisiscast.sandbox.runner import start_sandbox

    sandbox = await start_sandbox(Settings(), roles=roles)
    for fake in sandbox.fakes.values():
        fake.faults.latency_s = latency_ms / 1000.0
    print(json.dumps({"urls": sandbox.urls, "env": sandbox.env, "pid": os.getpid()}), flush=True)
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
        await sandbox.stop()


if __name__ == "__main__":
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    wanted = sys.argv[2:] or ["x", "graph", "twilio"]
    asyncio.run(main(latency, wanted))
