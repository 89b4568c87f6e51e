"""Headless Chromium for the console tests, driven over the DevTools protocol (aiohttp
websockets; no browser is downloaded, the system's /usr/bin/chromium is used).

``Browser.person()`` opens a page in a browser context of its own (its own cookies: one
person, one device). ``Page`` navigates, fills and submits forms, waits for DOM conditions
inside the page (a MutationObserver, bounded by a timeout; never a sleep), takes full-page
screenshots at a given width, and runs axe-core.

axe-core comes from the npm registry at test time (``npm install axe-core@4`` into
``~/.cache/crisiscast-axe``; it is not in the repository). Without Chromium or npm the tests
skip, except on CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

WAIT_S = 30.0
AXE_DIR = Path.home() / ".cache" / "crisiscast-axe"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not installed (.ci/run installs it; on CI this is a failure)")
    pytest.skip(f"{what} is not installed")


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _missing("chromium")
    assert found is not None
    return found


def axe_source() -> str:
    """axe-core's script, installed from the npm registry into a cache directory on first use."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm")
        assert npm is not None
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(  # once per machine, before any page is open
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR), "axe-core@4"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not script.is_file():
            _missing(f"axe-core (npm install failed: {done.stderr.strip()[-300:]})")
    return script.read_text(encoding="utf-8")


WAIT_JS = """
new Promise((resolve, reject) => {
  const check = () => { try { return !!(__CONDITION__); } catch (e) { return false; } };
  if (check()) { resolve(true); return; }
  const observer = new MutationObserver(() => { if (check()) { observer.disconnect(); resolve(true); } });
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  setTimeout(() => { observer.disconnect(); reject(new Error("timeout")); }, __TIMEOUT_MS__);
})
"""


class Connection:
    """The browser's DevTools websocket: calls by id, events by (session, name)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
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
        async with asyncio.timeout(WAIT_S + 10):
            reply = await future
        assert "error" not in reply, f"{method}: {reply['error']}"
        return dict(reply["result"])

    async def aclose(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


class Page:
    """One tab in one browser context."""

    def __init__(self, conn: Connection, session: str, shots: Path, who: str) -> None:
        self.conn = conn
        self.session = session
        self.shots = shots
        self.who = who

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.conn.call(method, self.session, **params)

    async def eval(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, f"{expression[:80]}: {result['exceptionDetails']}"
        return result["result"].get("value")

    async def _loaded(self, cause: str) -> None:
        loaded = self.conn.expect(self.session, "Page.loadEventFired")
        await self.eval(cause)
        async with asyncio.timeout(WAIT_S):
            await loaded

    async def goto(self, url: str) -> None:
        loaded = self.conn.expect(self.session, "Page.loadEventFired")
        await self.call("Page.navigate", url=url)
        async with asyncio.timeout(WAIT_S):
            await loaded

    async def fill(self, selector: str, value: str) -> None:
        await self.eval(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    async def check(self, selector: str, checked: bool = True) -> None:
        await self.eval(f"document.querySelector({json.dumps(selector)}).checked = {json.dumps(checked)}")

    async def click(self, selector: str) -> None:
        """Click what submits a form or follows a link, and wait for the next page to load."""
        await self._loaded(f"void document.querySelector({json.dumps(selector)}).click()")

    async def text(self, selector: str = "main") -> str:
        return str(await self.eval(f"document.querySelector({json.dumps(selector)}).innerText"))

    async def url(self) -> str:
        return str(await self.eval("location.href"))

    async def wait_for(self, condition: str) -> None:
        expression = WAIT_JS.replace("__CONDITION__", condition).replace(
            "__TIMEOUT_MS__", str(int(WAIT_S * 1000))
        )
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, f"the page never reached: {condition}"

    async def screenshot(self, name: str) -> list[Path]:
        """Full-page PNGs at phone (390 px) and desktop (1280 px) widths; also checks that the phone
        layout does not scroll sideways."""
        saved: list[Path] = []
        for label, width, mobile in (("phone", 390, True), ("desktop", 1280, False)):
            await self.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=844,
                deviceScaleFactor=1,
                mobile=mobile,
            )
            if mobile:
                overflow = await self.eval("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{name} scrolls sideways on a phone by {overflow} px"
            height = await self.eval("Math.ceil(document.documentElement.scrollHeight)")
            await self.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=max(int(height), 300),
                deviceScaleFactor=1,
                mobile=mobile,
            )
            shot = await self.call("Page.captureScreenshot", format="png")
            path = self.shots / f"{name}-{self.who}-{label}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            saved.append(path)
        await self.call("Emulation.clearDeviceMetricsOverride")
        return saved

    async def axe(self, source: str) -> list[dict[str, Any]]:
        """The serious and critical WCAG 2.1 A/AA violations axe-core finds on this page."""
        await self.eval(source + "\n;true")
        script = (
            "axe.run(document, {runOnly: {type: 'tag', values: __TAGS__}}).then(r => r.violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
        ).replace("__TAGS__", json.dumps(AXE_TAGS))
        return list(await self.eval(script))


class Browser:
    def __init__(self, conn: Connection, shots: Path) -> None:
        self.conn = conn
        self.shots = shots

    async def person(self, who: str) -> Page:
        """A page in a new browser context (own cookies, own storage): one person's device."""
        context = await self.conn.call("Target.createBrowserContext", disposeOnDetach=True)
        target = await self.conn.call(
            "Target.createTarget", url="about:blank", browserContextId=context["browserContextId"]
        )
        attached = await self.conn.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        page = Page(self.conn, attached["sessionId"], self.shots, who)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        return page


@contextlib.asynccontextmanager
async def chromium(user_data_dir: Path, shots: Path) -> AsyncIterator[Browser]:
    """Headless Chromium, stopped (terminate, then kill) when the block ends."""
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
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(WAIT_S):
            while not (line := (await proc.stderr.readline()).decode()).startswith("DevTools listening on "):
                assert line, "chromium exited before opening the DevTools port"
        drain = asyncio.ensure_future(proc.stderr.read())  # never let chromium block on a full pipe
        ws_url = line.split("DevTools listening on ", 1)[1].strip()
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(ws_url, max_msg_size=0)
            conn = Connection(ws)
            try:
                await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
                yield Browser(conn, shots)
            finally:
                await conn.aclose()
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            async with asyncio.timeout(WAIT_S):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if drain is not None:
            await drain
