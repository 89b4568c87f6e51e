"""Does the web console cost the webhook intake anything? Intake latency with and without it.

In one process: the sandbox fakes, the real server (``build_app``) on 127.0.0.1 with an
on-disk SQLite audit store, and an aiohttp client. For each of two runs — the console left out
(``build_app(console=False)``), then mounted with a signed-in person watching a board (an open
server-sent-events stream re-reading the store every half second, for a board that never
settles, so it polls for the whole run) — ``--alerts`` signed
template webhooks (``facility-fire``, Actual, SMS to the demo's five staff) are posted one
after another. The latency is POST → 202 (HTTP intake, signature check, rendering, the
durable plan); the dispatch then runs in the background. Printed, not asserted. Usage::

    .venv/bin/python bench/console_intake.py [--alerts 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_" + base64.b64encode(b"crisiscast-bench-console-secret!").decode()
TOKEN = "bench-person-token-0123456789"


def sign(body: bytes, webhook_id: str) -> dict[str, str]:
    ts = str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
    }


async def watch_board(http: aiohttp.ClientSession, base: str, dispatch_id: str) -> None:
    """Sign in to the console and hold a board's event stream open until cancelled."""
    form = await (await http.get(f"{base}/console/sign-in")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None
    await http.post(f"{base}/console/sign-in", data={"csrf_token": found.group(1), "token": TOKEN})
    async with http.get(f"{base}/console/dispatches/{dispatch_id}/events") as stream:
        async for _line in stream.content:
            pass  # the board's updates; the stream ends when the dispatch is settled


async def run(alerts: int, *, console: bool) -> list[float]:
    from crisiscast.audit.sqlite import SqliteStore
    from crisiscast.cli.demo_run import _embedded_defaults, demo_settings
    from crisiscast.config import Settings
    from crisiscast.dispatch import Dispatcher
    from crisiscast.sandbox.runner import start_sandbox
    from crisiscast.server.app import build_app
    from crisiscast.templates import load_templates

    sandbox = await start_sandbox(_embedded_defaults(), missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        contacts = resources.files("crisiscast.cli").joinpath("demo_data", "contacts.csv")
        (directory / "contacts.csv").write_text(contacts.read_text(encoding="utf-8"), encoding="utf-8")
        _, raw = demo_settings(directory, sandbox)
        raw["channels"].setdefault("mqtt", {})["enabled"] = False
        settings = Settings.model_validate(raw)
        secrets = sandbox.secrets().model_copy(
            update={"api_tokens": SecretStr(f"bench={TOKEN}"), "webhook_secrets": SecretStr(SECRET)}
        )
        store = SqliteStore(str(directory / "audit.db"))
        await store.open()
        app = build_app(
            settings,
            secrets,
            store,
            Dispatcher(store),
            catalog=load_templates(ROOT / "config" / "templates"),
            probes={},
            console=console,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        latencies: list[float] = []
        watcher: asyncio.Task[None] | None = None
        try:
            async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as viewer:
                for i in range(alerts):
                    body = json.dumps(
                        {
                            "template": "facility-fire",
                            "status": "Actual",
                            "variables": {"location": f"Building {'ABCDE'[i % 5]}, floor {i % 9 + 1}"},
                            "channels": ["sms"],
                        }
                    ).encode()
                    started = time.perf_counter()
                    headers = sign(body, uuid.uuid4().hex)
                    async with http.post(f"{base}/v1/alerts", data=body, headers=headers) as resp:
                        answer = await resp.json()
                        if resp.status != 202:
                            raise SystemExit(f"the server answered {resp.status} {answer}")
                    latencies.append((time.perf_counter() - started) * 1000)
                    if console and watcher is None:  # someone watches a board for the whole run
                        watcher = asyncio.create_task(watch_board(viewer, base, "board-never-settles"))
                if watcher is not None:
                    watcher.cancel()
        finally:
            await runner.cleanup()
            await store.close()
            await sandbox.stop()
    return latencies


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"{name:<34} n={len(ordered):<4} p50={statistics.median(ordered):6.1f} ms  "
        f"p99={p99:6.1f} ms  max={ordered[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=100)
    args = parser.parse_args()
    without = asyncio.run(run(args.alerts, console=False))
    with_console = asyncio.run(run(args.alerts, console=True))
    print("Webhook intake latency (POST /v1/alerts → 202), same machine, SQLite audit store")
    print(summary("console not mounted", without))
    print(summary("console mounted, one board watched", with_console))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
