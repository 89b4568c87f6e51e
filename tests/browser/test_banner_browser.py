"""The embeddable banner in a real browser: headless Chromium opens the sample page.

Chromium is driven over the DevTools protocol (``tests/browser/devtools.py``). Every
wait is on a DOM condition inside the page (a MutationObserver), bounded by a timeout. On CI
Chromium is installed by ``.ci/run``; elsewhere the test is skipped when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crisiscast.channels.banner.channel import write_state_atomically
from crisiscast.channels.banner.routes import add_banner_routes
from crisiscast.channels.registry import spec_for
from crisiscast.config import Settings
from tests.browser.devtools import Connection, chromium_process, wait_expression

WAIT_S = 20.0
HEADLINE = "Fire in Building A: avoid the east wing"


class BannerPage:
    """The sample page's own DevTools websocket; ``wait_for`` returns the banner's state."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        return self.conn.expect(None, event)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.conn.call(method, None, **params)

    async def wait_for(self, condition: str) -> dict[str, Any]:
        """Wait, inside the page, until ``condition`` (a JS expression over ``s``) holds; return ``s``."""
        result = await self.call(
            "Runtime.evaluate",
            expression=wait_expression(WAIT_JS, condition, WAIT_S),
            awaitPromise=True,
            returnByValue=True,
        )
        assert "exceptionDetails" not in result, f"the page never reached: {condition}"
        return dict(result["result"]["value"])


# The banner's state as seen in the page, re-read on every DOM change until the condition holds.
WAIT_JS = """
new Promise((resolve, reject) => {
  const state = () => {
    const root = document.getElementById("crisiscast-banner");
    const region = root && root.querySelector('[role="alert"]');
    const headline = region && region.querySelector(".cc-headline");
    const link = region && region.querySelector("a");
    const style = root && getComputedStyle(root);
    return {
      present: !!region,
      first: !!root && document.body.firstElementChild === root,
      live: region ? region.getAttribute("aria-live") : null,
      text: region ? region.textContent : "",
      active: !!root && root.classList.contains("cc-active"),
      href: link ? link.href : null,
      bg: style ? style.backgroundColor : null,
      fg: style ? style.color : null,
      fontPx: headline ? parseFloat(getComputedStyle(headline).fontSize) : 0,
      bodyPx: region && region.querySelector(".cc-instruction")
        ? parseFloat(getComputedStyle(region.querySelector(".cc-instruction")).fontSize) : 0,
      animated: !!root && [...root.querySelectorAll("*")].some(
        (el) => getComputedStyle(el).animationName !== "none"),
      overflowX: document.documentElement.scrollWidth > window.innerWidth,
      marquee: document.getElementsByTagName("marquee").length,
    };
  };
  const check = () => { const s = state(); if (__CONDITION__) { resolve(s); return true; } return false; };
  if (check()) return;
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  setTimeout(() => { observer.disconnect(); reject(new Error("timeout")); }, __TIMEOUT_MS__);
})
"""


@contextlib.asynccontextmanager
async def chromium_page(user_data_dir: Path) -> AsyncIterator[BannerPage]:
    """Headless Chromium with a phone-sized window, attached to its first page."""
    async with chromium_process(user_data_dir, "--window-size=390,844") as ws_url:
        http_base = "http://" + ws_url.split("ws://", 1)[1].split("/", 1)[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{http_base}/json/list") as resp:
                targets = await resp.json()
            page = next(t for t in targets if t["type"] == "page")
            ws = await session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
            conn = Connection(ws, reply_s=WAIT_S + 5)
            try:
                yield BannerPage(conn)
            finally:
                await conn.aclose()


def banner(
    headline: str, *, issued_at: datetime, expires_at: datetime, status: str = "active"
) -> dict[str, Any]:
    return {
        "id": "crisiscast-browser-test",
        "status": status,
        "msg_type": "Alert",
        "severity": "Severe",
        "urgency": "Immediate",
        "event": "Fire",
        "headline": headline,
        "instruction": "Use the west entrance. Staff follow the fire plan for your ward.",
        "description": "",
        "web": "https://example-hospital.org/status",
        "language": "en",
        "translations": {},
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(),
        "exercise": False,
    }


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    settings = Settings.model_validate({"base_dir": str(tmp_path)})
    app = web.Application()
    add_banner_routes(app, settings)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), settings.resolve(spec_for("banner").config(settings).path)
    await server.close()


async def test_banner_appears_then_clears_and_expires(site: tuple[str, Path], tmp_path: Path) -> None:
    """The sample page shows the banner (role=alert, headline, instruction, link, top of page, AA
    colours, >= 16px, no animation, no sideways scroll on a phone), removes it when cleared, and
    removes a banner whose expiry passes without any change to the feed."""
    base_url, state_path = site
    now = datetime.now(UTC)
    write_state_atomically(state_path, banner(HEADLINE, issued_at=now, expires_at=now + timedelta(hours=1)))
    async with chromium_page(tmp_path / "chromium") as page:
        await page.call("Page.enable")
        loaded = page.expect("Page.loadEventFired")
        await page.call("Page.navigate", url=f"{base_url}/banner/sample?poll_ms=200")
        async with asyncio.timeout(WAIT_S):
            await loaded

        shown = await page.wait_for(f"s.active && s.text.includes({json.dumps(HEADLINE)})")
        assert shown["live"] == "assertive" and shown["first"]
        assert "Use the west entrance." in shown["text"] and "More information" in shown["text"]
        assert shown["href"] == "https://example-hospital.org/status"
        assert (shown["bg"], shown["fg"]) == ("rgb(179, 38, 30)", "rgb(255, 255, 255)")  # Severe, 6.54:1
        assert shown["fontPx"] >= 16 and shown["bodyPx"] >= 16
        assert not shown["animated"] and shown["marquee"] == 0
        assert not shown["overflowX"], "the banner makes a phone-width page scroll sideways"

        later = now + timedelta(minutes=1)
        write_state_atomically(
            state_path, banner(HEADLINE, issued_at=later, expires_at=later, status="cleared")
        )
        cleared = await page.wait_for("!s.active && s.text === ''")
        assert cleared["present"], "the live region stays in the page, empty, for the next banner"

        expiring = datetime.now(UTC) + timedelta(seconds=1.5)
        write_state_atomically(
            state_path,
            banner("Short-lived notice", issued_at=later + timedelta(minutes=1), expires_at=expiring),
        )
        await page.wait_for("s.active && s.text.includes('Short-lived notice')")
        await page.wait_for("!s.active && s.text === ''")
