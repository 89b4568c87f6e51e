"""Headless Chromium for the console tests, driven over the DevTools protocol (aiohttp
websockets; no browser is downloaded, the system's /usr/bin/chromium is used).

``Browser.person()`` opens a page in a browser context of its own (its own cookies: one
person, one device). ``Page`` navigates, fills and submits forms, waits for DOM conditions
inside the page (a MutationObserver, bounded by a timeout; never a sleep), takes full-page
screenshots at a given width, and runs axe-core.

axe-core comes from the npm registry at test time (``npm install axe-core@4`` into
``~/.cache/crisiscast-axe``; it is not in the repository). Chromium is started and spoken to
by ``tests/browser/devtools.py``. Without Chromium or npm the tests skip, except on CI
(``CI=true``), where that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.browser.devtools import Connection, chromium_process, missing, wait_expression

WAIT_S = 30.0
AXE_DIR = Path.home() / ".cache" / "crisiscast-axe"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source() -> str:
    """axe-core's script, installed from the npm registry into a cache directory on first use."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            missing("npm")
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
            missing(f"axe-core (npm install failed: {done.stderr.strip()[-300:]})")
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
        result = await self.call(
            "Runtime.evaluate",
            expression=wait_expression(WAIT_JS, condition, WAIT_S),
            awaitPromise=True,
            returnByValue=True,
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
    async with chromium_process(user_data_dir) as ws_url, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(ws_url, max_msg_size=0)
        conn = Connection(ws, reply_s=WAIT_S + 10)
        try:
            await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
            yield Browser(conn, shots)
        finally:
            await conn.aclose()
