"""Test helpers for the server: signing with the standardwebhooks library, an in-memory channel,
and a harness that runs the real app (real SQLite store, real Dispatcher) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from standardwebhooks import Webhook

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.channels.base import BaseChannel, Channel, ChannelLimits, RenderContext
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.dispatch import Dispatcher
from crisiscast.message import CrisisMessage
from crisiscast.server.app import build_app
from crisiscast.server.context import CONTEXT, ServerContext
from crisiscast.server.health import store_probe

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"
SECRET_A = "whsec_" + base64.b64encode(b"crisiscast-test-secret-A-32bytes").decode()
SECRET_B = "whsec_" + base64.b64encode(b"crisiscast-test-secret-B-32bytes").decode()
API_TOKEN = "test-api-token-0123456789abcdefghijkl"
PERSON_TOKEN = "dana-token-0123456789abcdef0123456789"  # a person's token: "dana=…"
TWILIO_TOKEN = "test-twilio-auth-token-0000"

FIRE = {"template": "facility-fire", "status": "Actual", "variables": {"location": "Building A, floor 3"}}


def signed_headers(
    body: str | bytes,
    webhook_id: str = "msg_1",
    *,
    secret: str = SECRET_A,
    timestamp: datetime | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """Standard Webhooks headers made by the reference library."""
    when = timestamp or datetime.now(UTC)
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, when, text),
        "Content-Type": content_type,
    }


@dataclass
class MemoryChannel(BaseChannel):
    """An in-memory channel: one delivery per target, sends recorded, optionally held at a gate."""

    channel_name: str = "memory"
    targets: Sequence[str] = ("a",)
    gate: asyncio.Event | None = None
    sent: list[Delivery] = field(default_factory=list)
    account: str = ""
    limits: ChannelLimits = field(default_factory=lambda: ChannelLimits(max_concurrency=4, max_attempts=2))
    public: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.account = self.account or f"{self.channel_name}:test"

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.channel_name

    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        return [Delivery(ctx.dispatch_id, self.channel_name, t, 0, message.headline) for t in self.targets]

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(delivery)
        return Receipt(
            provider_id=sms_sid(delivery.key) if self.channel_name == "sms" else f"id-{len(self.sent)}"
        )


def sms_sid(key: str) -> str:
    """The deterministic Twilio-like SID the memory SMS channel returns for a delivery key."""
    return "SM" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass
class Harness:
    client: TestClient[web.Request, web.Application]
    store: SqliteStore
    settings: Settings
    secrets: Secrets
    built: list[list[MemoryChannel]]
    gate: asyncio.Event

    @property
    def ctx(self) -> ServerContext:
        return self.client.app[CONTEXT]

    def sends(self) -> list[Delivery]:
        return [d for channels in self.built for c in channels for d in c.sent]

    async def post_alert(
        self, payload: Any, webhook_id: str = "msg_1", **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        content_type = kw.pop("content_type", "application/json")
        headers = signed_headers(body, webhook_id, content_type=content_type, **kw)
        resp = await self.client.post("/v1/alerts", data=body.encode(), headers=headers)
        return resp.status, await resp.json()


def make_settings(tmp_path: Path, **server: Any) -> Settings:
    return Settings.model_validate(
        {
            "base_dir": str(tmp_path),
            "templates_dir": str(TEMPLATES_DIR),
            "store": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            "server": {"public_url": "https://crisiscast.example.org", **server},
        }
    )


def make_secrets(**overrides: Any) -> Secrets:
    values: dict[str, Any] = {
        "webhook_secrets": SecretStr(f"{SECRET_A},{SECRET_B}"),
        "api_tokens": SecretStr(f"other-token-abcdef-0123456789abcdefgh,ops={API_TOKEN}"),
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
    }
    values.update(overrides)
    return Secrets(**values)


async def start_harness(
    tmp_path: Path,
    *,
    secrets: Secrets | None = None,
    settings: Settings | None = None,
    grace_s: float = 5.0,
    channel_names: Sequence[str] = ("sms", "banner"),
    channel_class: type[MemoryChannel] | None = None,
) -> Harness:
    settings = settings or make_settings(tmp_path)
    secrets = secrets or make_secrets()
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    gate = asyncio.Event()
    gate.set()
    built: list[list[MemoryChannel]] = []

    def factory(
        _settings: Settings, _secrets: Secrets, message: CrisisMessage
    ) -> tuple[list[Channel], list[tuple[str, str]]]:
        channels = [
            (channel_class or MemoryChannel)(
                channel_name=name,
                targets=("+15550100001", "+15550100002") if name == "sms" else ("main",),
                gate=gate,
            )
            for name in channel_names
        ]
        built.append(channels)
        return list(channels), []

    app = build_app(
        settings,
        secrets,
        store,
        Dispatcher(store, backoff_base_s=0.01, backoff_cap_s=0.05),
        channels_factory=factory,
        probes={"store": store_probe(store)},
        grace_s=grace_s,
        receipt_wait_s=0.3,
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Harness(client=client, store=store, settings=settings, secrets=secrets, built=built, gate=gate)


async def stop_harness(h: Harness) -> None:
    h.gate.set()
    await h.client.close()
    await h.store.close()


def dispatch_ids_planned(events: Sequence[Mapping[str, Any]]) -> set[str]:
    return {e["dispatch_id"] for e in events if e["kind"] == "dispatch_planned"}


@asynccontextmanager
async def person_and_machine_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness whose API knows a person's token (dana, ``PERSON_TOKEN``) and a machine's (``API_TOKEN``)."""
    h = await start_harness(
        tmp_path, secrets=make_secrets(api_tokens=SecretStr(f"dana={PERSON_TOKEN},{API_TOKEN}"))
    )
    try:
        yield h
    finally:
        await stop_harness(h)
