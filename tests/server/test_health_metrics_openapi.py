"""/healthz, /metrics and /openapi.json."""

from __future__ import annotations

import socket
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from crisiscast.channels.mqtt.config import MqttConfig
from crisiscast.channels.mqtt.probe import mqtt_probe
from crisiscast.config import Secrets
from crisiscast.dispatch import Dispatcher
from crisiscast.server.app import build_app
from crisiscast.server.health import load_openapi, store_probe
from tests.server.helpers import FIRE, Harness, make_secrets, make_settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_healthz_ok_with_store_and_real_broker(harness: Harness, mqtt_url: str) -> None:
    """With the store and the real Mosquitto reachable, /healthz is 200 and lists both checks."""
    harness.ctx.probes["mqtt"] = mqtt_probe(MqttConfig(url=mqtt_url), Secrets())
    resp = await harness.client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body == {"ok": True, "checks": {"store": "ok", "mqtt": "ok"}, "accepting": True}


async def test_healthz_503_names_the_unreachable_broker(harness: Harness) -> None:
    """A broker that does not answer makes /healthz 503 with a plain reason."""
    port = closed_port()
    harness.ctx.probes["mqtt"] = mqtt_probe(MqttConfig(url=f"mqtt://127.0.0.1:{port}"), Secrets())
    resp = await harness.client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert body["checks"]["store"] == "ok"
    assert f"127.0.0.1:{port}" in body["checks"]["mqtt"]


async def test_healthz_503_when_store_is_closed(harness: Harness) -> None:
    """A store that cannot answer makes /healthz 503."""
    await harness.store.close()
    resp = await harness.client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["checks"]["store"] != "ok"


async def test_metrics_count_webhooks_dispatches_and_deliveries(harness: Harness) -> None:
    """After one dispatch and one rejection, /metrics shows them in Prometheus text."""
    _, body = await harness.post_alert(FIRE)
    await harness.ctx.runner.wait(body["dispatch_id"])
    await harness.client.post("/v1/alerts", data="x", headers={"Content-Type": "text/plain"})
    resp = await harness.client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'crisiscast_webhooks_total{result="accepted"} 1.0' in text
    assert 'crisiscast_webhooks_total{result="rejected_415"} 1.0' in text
    assert 'crisiscast_dispatches_total{outcome="delivered",source="webhook"} 1.0' in text
    assert 'crisiscast_deliveries_total{channel="sms",outcome="delivered"} 2.0' in text
    assert 'crisiscast_intake_seconds_count{kind="template"} 1.0' in text
    assert "crisiscast_dispatch_duration_seconds_bucket" in text


async def test_openapi_documents_every_route(tmp_path: Path) -> None:
    """The shipped OpenAPI 3.1 document describes every API route the app serves, with its method
    (the web console's HTML pages under /console are for browsers, not part of the API)."""
    settings = make_settings(tmp_path)
    from crisiscast.audit.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "a.db"))
    await store.open()
    try:
        app = build_app(
            settings, make_secrets(), store, Dispatcher(store), probes={"store": store_probe(store)}
        )
        document = load_openapi()
        assert document["openapi"].startswith("3.1")
        served = {
            (route.method.lower(), route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None
            and route.method != "HEAD"
            and not route.resource.canonical.startswith("/console")
        }
        documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
        assert served <= documented, served - documented
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/openapi.json")
            assert await resp.json() == document
    finally:
        await store.close()
