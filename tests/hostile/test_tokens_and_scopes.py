"""API tokens under attack: short tokens refused at start, failures logged and limited, scopes.

Real aiohttp app (``build_app``) on 127.0.0.1 with a real SQLite store (``tests.server.helpers``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.dispatch import Dispatcher
from crisiscast.errors import ConfigError
from crisiscast.server.app import build_app
from crisiscast.server.refusals import DEFAULT_MAX_FAILURES
from tests.server.helpers import (
    API_TOKEN,
    FIRE,
    Harness,
    make_secrets,
    make_settings,
    start_harness,
    stop_harness,
)

MACHINE = "other-token-abcdef-0123456789abcdefgh"  # a bare token in make_secrets: status only
WRONG = "a-guess-that-is-long-enough-0123456789"


async def _dispatched(h: Harness) -> str:
    status, body = await h.post_alert(FIRE, "tokens-1")
    assert status == 202
    await h.ctx.runner.wait(body["dispatch_id"])
    return str(body["dispatch_id"])


@pytest.mark.parametrize("entry", ["t0ken-of-31-characters-exactly!", "alice=brief-secret"])
async def test_a_token_shorter_than_32_characters_stops_the_server(tmp_path: Path, entry: str) -> None:
    """An API token of fewer than 32 characters is a ConfigError at start, never echoing it."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        with pytest.raises(ConfigError, match="shorter than 32 characters") as caught:
            secrets = make_secrets(api_tokens=SecretStr(entry))
            build_app(make_settings(tmp_path), secrets, store, Dispatcher(store))
    finally:
        await store.close()
    token = entry.partition("=")[2] or entry
    assert token not in str(caught.value)


async def test_failed_authentication_is_logged_with_peer_and_reason_never_the_token(tmp_path: Path) -> None:
    """A wrong token and an unsigned webhook each log request_refused with the peer and the
    reason; the presented token appears in no log entry."""
    h = await start_harness(tmp_path)
    try:
        with capture_logs() as logs:
            resp = await h.client.get("/v1/dispatches/x", headers={"Authorization": f"Bearer {WRONG}"})
            assert resp.status == 401
            resp = await h.client.post("/v1/alerts", data=b"{}", headers={"Content-Type": "application/json"})
            assert resp.status == 401
    finally:
        await stop_harness(h)
    refused = [e for e in logs if e["event"] == "request_refused"]
    assert [(e["status"], e["path"]) for e in refused] == [(401, "/v1/dispatches/x"), (401, "/v1/alerts")]
    assert all(e["peer"] == "127.0.0.1" for e in refused)
    assert refused[0]["reason"] == "API token not recognised"
    assert "webhook-signature" in refused[1]["reason"]
    assert WRONG not in json.dumps(logs, default=str)


async def test_repeated_failures_from_one_peer_get_429_but_a_valid_token_still_works(tmp_path: Path) -> None:
    """After DEFAULT_MAX_FAILURES wrong tokens, the next wrong one is 429 with Retry-After, a bad
    webhook signature too; the same peer with a valid token is still served."""
    h = await start_harness(tmp_path)
    try:
        dispatch_id = await _dispatched(h)
        path = f"/v1/dispatches/{dispatch_id}"
        wrong = {"Authorization": f"Bearer {WRONG}"}
        for _ in range(DEFAULT_MAX_FAILURES):
            assert (await h.client.get(path, headers=wrong)).status == 401
        limited = await h.client.get(path, headers=wrong)
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) >= 1
        bad_webhook = await h.client.post(
            "/v1/alerts",
            data=b"{}",
            headers={
                "Content-Type": "application/json",
                "webhook-id": "guess",
                "webhook-timestamp": "1",
                "webhook-signature": "v1,AAAA",
            },
        )
        assert bad_webhook.status == 429
        ok = await h.client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert ok.status == 200
    finally:
        await stop_harness(h)


async def test_a_status_only_token_sees_counts_not_phone_numbers(tmp_path: Path) -> None:
    """A machine's (bare) token gets the channel counts and receipt counts but no recipient;
    a person's token gets the per-recipient list."""
    h = await start_harness(tmp_path)
    try:
        dispatch_id = await _dispatched(h)
        path = f"/v1/dispatches/{dispatch_id}"
        machine = await h.client.get(path, headers={"Authorization": f"Bearer {MACHINE}"})
        person = await h.client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert machine.status == 200 and person.status == 200
        machine_text, person_text = await machine.text(), await person.text()
    finally:
        await stop_harness(h)
    assert "+15550100001" in person_text
    assert "+1555" not in machine_text
    document = json.loads(machine_text)
    assert "sms_receipts" not in document
    assert document["channels"]["sms"]["delivered"] == 2
    assert sum(document["sms_receipt_counts"].values()) == 2


async def test_metrics_can_require_a_token(tmp_path: Path) -> None:
    """With metrics_require_token, /metrics is 401 without a token and 200 with any API token;
    without the setting it stays open."""
    h = await start_harness(tmp_path, settings=make_settings(tmp_path, metrics_require_token=True))
    try:
        assert (await h.client.get("/metrics")).status == 401
        resp = await h.client.get("/metrics", headers={"Authorization": f"Bearer {MACHINE}"})
        assert resp.status == 200
        assert "crisiscast" in await resp.text()
    finally:
        await stop_harness(h)
    open_path = tmp_path / "open"
    open_path.mkdir()
    h = await start_harness(open_path)
    try:
        assert (await h.client.get("/metrics")).status == 200
    finally:
        await stop_harness(h)
