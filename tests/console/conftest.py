"""The console suite: the real server (``build_app``) on 127.0.0.1 with the console mounted,
real channels against the sandbox fakes, configured as ``crisiscast demo`` configures itself
(``demo_settings``), with two people's tokens and a machine's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.cli.demo_run import _embedded_defaults, demo_settings
from crisiscast.config import Settings
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from crisiscast.server.app import build_app
from crisiscast.templates import load_templates
from tests.cli.conftest import ROOT
from tests.sandbox_urls import lift_pacing

ALICE_TOKEN = "alice-console-token-0123456789abcdef"
BOB_TOKEN = "bob-console-token-0123456789abcdef012"
MACHINE_TOKEN = "machine-console-token-0123456789abcdef"
TOKENS = f"alice={ALICE_TOKEN},bob={BOB_TOKEN},{MACHINE_TOKEN}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    server: TestServer
    store: SqliteStore
    settings: Settings
    sandbox: Sandbox
    tmp_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def app(self) -> web.Application:
        return self.server.app


def console_settings(tmp_path: Path, sandbox: Sandbox) -> Settings:
    """The demo's configuration in ``tmp_path`` (signage off: it needs no shared broker here)."""
    contacts = resources.files("crisiscast.cli").joinpath("demo_data", "contacts.csv")
    (tmp_path / "contacts.csv").write_text(contacts.read_text(encoding="utf-8"), encoding="utf-8")
    _, raw = demo_settings(tmp_path, sandbox)
    raw["channels"].setdefault("mqtt", {})["enabled"] = False
    lift_pacing(raw["channels"])  # a Bluesky thread must not wait a second per part here
    raw["templates_dir"] = str(ROOT / "config" / "templates")
    return Settings.model_validate(raw)


@asynccontextmanager
async def open_site(
    tmp_path: Path, adjust: Callable[[Settings], Settings] = lambda settings: settings
) -> AsyncIterator[Site]:
    """The console's server on 127.0.0.1 with ``console_settings`` (``adjust`` may change them)."""
    sandbox = await start_sandbox(_embedded_defaults(), missing_ok=True)
    store: SqliteStore | None = None
    server: TestServer | None = None
    try:
        settings = adjust(console_settings(tmp_path, sandbox))
        secrets = sandbox.secrets().model_copy(update={"api_tokens": SecretStr(TOKENS)})
        store = SqliteStore(str(tmp_path / "audit.db"))
        await store.open()
        app = build_app(
            settings,
            secrets,
            store,
            Dispatcher(store, limiters=LimiterRegistry()),
            catalog=load_templates(ROOT / "config" / "templates"),
            probes={},
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        yield Site(server, store, settings, sandbox, tmp_path)
    finally:
        if server is not None:
            await server.close()
        if store is not None:
            await store.close()
        await sandbox.stop()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with open_site(tmp_path) as opened:
        yield opened


async def approved_headline_alert(alice: TestClient[Any, Any], bob: TestClient[Any, Any]) -> str:
    """alice's free-text Actual alert (a headline only, no Spanish) approved by bob: its draft id.

    A headline alone fails the quality gate, so sending it needs a reason.
    """
    page = await alice.get("/console/compose")
    resp = await alice.post(
        "/console/compose",
        data={
            "csrf_token": csrf_of(await page.text()),
            "status": "Actual",
            "headline": "Water outage in Building E until 15:00",
            "audience": "all-staff",
            "channel": "sms",
        },
        allow_redirects=False,
    )
    draft_id = resp.headers["Location"].rsplit("/", 1)[1]
    html = await (await bob.get(f"/console/drafts/{draft_id}")).text()
    digest = html.split('data-testid="sha256">')[1].split("<")[0]
    await bob.post(
        f"/console/drafts/{draft_id}/approve", data={"csrf_token": csrf_of(html), "message_sha256": digest}
    )
    return draft_id


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: TestClient[Any, Any], token: str) -> ClientResponse:
    """Sign in through the form (its CSRF cookie and field), as a browser would."""
    form = await client.get("/console/sign-in")
    return await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(await form.text()), "token": token},
        allow_redirects=False,
    )
