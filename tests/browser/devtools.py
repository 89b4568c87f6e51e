"""Headless Chromium for the browser tests, driven over the DevTools protocol (aiohttp
websockets; no browser is downloaded, the system's /usr/bin/chromium is used).

``chromium_process`` starts Chromium on a free DevTools port and yields the browser's websocket
address; ``Connection`` calls methods by id and waits for events by (session, name). The banner
test attaches to the first page's own websocket (``session=None``); the console tests attach
flat sessions to pages of their own browser contexts. Without Chromium the tests skip, except
on CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

START_S = 30.0  # Chromium's start and stop, and a DevTools call's reply


def missing(what: str) -> None:
    """Skip for a missing system package, or fail on CI, where ``.ci/run`` installs it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not installed (.ci/run installs it; on CI this is a failure)")
    pytest.skip(f"{what} is not installed")


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("chromium")
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def chromium_process(user_data_dir: Path, *args: str) -> AsyncIterator[str]:
    """Headless Chromium (extra ``args`` added), stopped (terminate, then kill) when the block
    ends; yields its DevTools websocket address."""
    proc = await asyncio.create_subprocess_exec(
        chromium_path(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={user_data_dir}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        *args,
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(START_S):
            while not (line := (await proc.stderr.readline()).decode()).startswith("DevTools listening on "):
                assert line, "chromium exited before opening the DevTools port"
        drain = asyncio.ensure_future(proc.stderr.read())  # never let chromium block on a full pipe
        yield line.split("DevTools listening on ", 1)[1].strip()
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            async with asyncio.timeout(START_S):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if drain is not None:
            await drain


class Connection:
    """A DevTools websocket: calls by id, events by (session, name)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, reply_s: float = START_S) -> None:
        self.ws = ws
        self._reply_s = reply_s
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiting: dict[tuple[str | None, str], asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
                continue
            key = (data.get("sessionId"), data.get("method", ""))
            future = self._waiting.get(key)
            if future is not None and not future.done():
                future.set_result(data.get("params", {}))

    def expect(self, session: str | None, event: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``event`` (register it before causing the event)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[(session, event)] = future
        return future

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send_json(message)
        async with asyncio.timeout(self._reply_s):  # longer than a wait in the page, which says why
            reply = await future
        assert "error" not in reply, f"{method}: {reply['error']}"
        return dict(reply["result"])

    async def aclose(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


def wait_expression(wait_js: str, condition: str, timeout_s: float) -> str:
    """``wait_js`` (a page-side Promise) with its ``__CONDITION__`` and ``__TIMEOUT_MS__`` filled in."""
    return wait_js.replace("__CONDITION__", condition).replace("__TIMEOUT_MS__", str(int(timeout_s * 1000)))
