"""End to end: a signed fire alert reaches every channel in the sandbox, the status API says so,
and Twilio's signed status callbacks mark every SMS delivered in the audit.

Real parts throughout: the app on 127.0.0.1, the real SQLite store and Dispatcher, the real
channels against the protocol-faithful fakes (X, Graph API, Twilio), the banner state file,
and the real Mosquitto.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from crisiscast.audit.events import EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.channels.mqtt.channel import alert_topic
from crisiscast.config import Settings
from crisiscast.dispatch import Dispatcher
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from crisiscast.sandbox.twilio import FakeTwilio
from crisiscast.server import intake
from crisiscast.server.app import build_app
from crisiscast.server.context import CONTEXT
from tests.server.helpers import API_TOKEN, FIRE, SECRET_A, TEMPLATES_DIR, signed_headers

CONTACTS = """name,phone,groups,language
Avery Chen,+1 617 555 0101,staff,en
Rosa Diaz,+1 617 555 0102,staff,es
Sam Okafor,+1 617 555 0103,staff,en
Sofia Park,+1 617 555 0126,drill-team,en
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    client: TestClient  # type: ignore[type-arg]
    sandbox: Sandbox
    store: SqliteStore
    settings: Settings
    mqtt_topic: str


@pytest.fixture
async def world(tmp_path: Path, mqtt_url: str) -> AsyncIterator[World]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    prefix = f"test/crisiscast-{uuid.uuid4().hex[:8]}"
    base = Settings.model_validate(
        {
            "base_dir": str(tmp_path),
            "templates_dir": str(TEMPLATES_DIR),
            "store": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            "server": {"public_url": public_url},
            "channels": {
                "twitter": {
                    "api_base_url": "http://127.0.0.1:1",
                    "exercise_api_base_url": "http://127.0.0.1:2",
                },
                "facebook": {"page_id": "100000000000001", "exercise_page_id": "100000000000999"},
                "sms": {
                    "account_sid": "AC00000000000000000000000000000000",
                    "messaging_service_sid": "MG00000000000000000000000000000000",
                    "contacts": str(contacts),
                },
                "banner": {
                    "path": str(tmp_path / "banner.json"),
                    "exercise_path": str(tmp_path / "banner-x.json"),
                },
                "mqtt": {
                    "url": mqtt_url,
                    "topic_prefix": prefix,
                    "exercise_topic_prefix": prefix + "-exercise",
                },
            },
        }
    )
    sandbox = await start_sandbox(base)
    settings = sandbox.settings_for(base)
    secrets = sandbox.secrets().model_copy(
        update={"webhook_secrets": SecretStr(SECRET_A), "api_tokens": SecretStr(API_TOKEN)}
    )
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    app = build_app(settings, secrets, store, Dispatcher(store), receipt_wait_s=5.0)
    client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield World(client, sandbox, store, settings, alert_topic(prefix))
    finally:
        await client.close()
        await store.close()
        await sandbox.stop()
        async with aiomqtt.Client("127.0.0.1", port=int(mqtt_url.rsplit(":", 1)[1])) as mqtt:
            await mqtt.publish(alert_topic(prefix), b"", retain=True)


async def retained(mqtt_url: str, topic: str) -> dict[str, object]:
    host_port = mqtt_url.removeprefix("mqtt://")
    host, _, port = host_port.partition(":")
    async with aiomqtt.Client(host, port=int(port or 1883)) as mqtt:
        await mqtt.subscribe(topic)
        async for message in mqtt.messages:
            assert isinstance(message.payload, bytes | bytearray)
            document: dict[str, object] = json.loads(message.payload)
            return document
    raise AssertionError("no retained message")


async def test_signed_fire_alert_reaches_every_channel(world: World, mqtt_url: str) -> None:
    """A signed POST of the fire template: 202 at once; X, Facebook, SMS (three staff), banner and
    MQTT all receive it; the status API reports delivered; the fake's signed status callbacks are
    recorded as delivered receipts for every SMS."""
    body = json.dumps({**FIRE, "variables": {"location": "Building B, floor 2"}})
    resp = await world.client.post("/v1/alerts", data=body, headers=signed_headers(body, "panel-7781"))
    assert resp.status == 202
    answer = await resp.json()
    dispatch_id = answer["dispatch_id"]
    assert answer["state"] == "dispatching"
    report = await world.client.app[CONTEXT].runner.wait(dispatch_id)
    assert report is not None
    assert report.ok, json.dumps(report.to_json(), indent=1)
    assert set(report.channels) == {"twitter", "facebook", "sms", "voice", "banner", "mqtt"}  # voice: off

    x, graph, twilio = (world.sandbox.fakes[r] for r in ("x", "graph", "twilio"))
    assert any("Building B, floor 2" in p["text"] for p in x.posts)  # type: ignore[attr-defined]
    assert any("Building B, floor 2" in p["message"] for p in graph.posts)  # type: ignore[attr-defined]
    assert isinstance(twilio, FakeTwilio)
    sms_posts = [r for r in twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
    assert len(sms_posts) == 3
    banner = await (await world.client.get("/banner.json")).json()
    assert banner["status"] == "active" and "Building B, floor 2" in banner["headline"]
    signage = await asyncio.wait_for(retained(mqtt_url, world.mqtt_topic), 10)
    assert "Building B, floor 2" in str(signage["headline"])

    await twilio.callbacks_settled(timeout_s=10)
    assert len(twilio.callbacks) == 6 and {c.status for c in twilio.callbacks} == {204}
    receipts = [
        e.event async for e in world.store.events(dispatch_id) if e.event.kind is EventKind.RECEIPT_STATUS
    ]
    delivered_keys = {e.delivery_key for e in receipts if e.data["status"] == "delivered"}
    sms_keys = {
        r.delivery.key for r in await world.store.deliveries(dispatch_id) if r.delivery.channel == "sms"
    }
    assert delivered_keys == sms_keys and len(sms_keys) == 3

    resp = await world.client.get(
        f"/v1/dispatches/{dispatch_id}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    doc = await resp.json()
    assert doc["state"] == "delivered"
    assert {name: c["delivered"] for name, c in doc["channels"].items()} == {
        "twitter": doc["channels"]["twitter"]["planned"],
        "facebook": 1,
        "sms": 3,
        "banner": 1,
        "mqtt": 1,
    }
    assert {r["receipt"]["status"] for r in doc["sms_receipts"]} == {"delivered"}


async def test_retry_takes_over_a_webhook_orphaned_by_a_dead_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook id bound by a process that died before planning (the binding is in the store,
    nothing else) is taken over by the sender's retry: 202 dispatching under the SAME dispatch id,
    and the providers' fakes receive the alert."""
    orphan_id = "d-orphaned-by-a-dead-process"
    assert await world.store.bind_key("webhook:panel-9001", orphan_id) == (orphan_id, True)
    monkeypatch.setattr(intake, "RECLAIM_AFTER_S", 0.0)
    body = json.dumps({**FIRE, "variables": {"location": "Building D, floor 4"}})
    resp = await world.client.post("/v1/alerts", data=body, headers=signed_headers(body, "panel-9001"))
    assert resp.status == 202
    answer = await resp.json()
    assert (answer["dispatch_id"], answer["state"]) == (orphan_id, "dispatching")
    assert "duplicate" not in answer
    report = await world.client.app[CONTEXT].runner.wait(orphan_id)
    assert report is not None and report.ok, report and json.dumps(report.to_json(), indent=1)
    x, graph, twilio = (world.sandbox.fakes[r] for r in ("x", "graph", "twilio"))
    assert any("Building D, floor 4" in p["text"] for p in x.posts)  # type: ignore[attr-defined]
    assert any("Building D, floor 4" in p["message"] for p in graph.posts)  # type: ignore[attr-defined]
    sms_posts = [r for r in twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
    assert len(sms_posts) == 3
    await twilio.callbacks_settled(timeout_s=10)  # type: ignore[attr-defined]
