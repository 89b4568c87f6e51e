"""GET /v1/dispatches/{id} (bearer auth) and POST /v1/twilio/status (signed receipts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from crisiscast.audit.events import EventKind
from tests.server.helpers import (
    API_TOKEN,
    FIRE,
    TWILIO_TOKEN,
    Harness,
    make_secrets,
    sms_sid,
    start_harness,
    stop_harness,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PUBLIC = "https://crisiscast.example.org"


async def dispatched(h: Harness, webhook_id: str = "msg_1") -> str:
    status, body = await h.post_alert(FIRE, webhook_id)
    assert status == 202
    await h.ctx.runner.wait(body["dispatch_id"])
    return str(body["dispatch_id"])


async def callback(
    h: Harness,
    params: dict[str, str],
    *,
    path: str = "/v1/twilio/status",
    token: str = TWILIO_TOKEN,
    url: str | None = None,
) -> Any:
    signature = RequestValidator(token).compute_signature(url or PUBLIC + path, params)
    return await h.client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def receipt(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+15550100001",
        **extra,
    }


async def test_status_requires_a_valid_bearer_token(harness: Harness) -> None:
    """No token, a wrong token or another scheme is 401 with a Bearer challenge."""
    dispatch_id = await dispatched(harness)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {API_TOKEN}"}):
        resp = await harness.client.get(f"/v1/dispatches/{dispatch_id}", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await harness.client.get(
        f"/v1/dispatches/{dispatch_id}",
        headers={"Authorization": "Bearer other-token-abcdef-0123456789abcdefgh"},
    )
    assert resp.status == 200


async def test_status_api_closed_without_configured_tokens(tmp_path: Path) -> None:
    """With no CRISISCAST_API_TOKENS every status request is refused."""
    h = await start_harness(tmp_path, secrets=make_secrets(api_tokens=None))
    try:
        resp = await h.client.get("/v1/dispatches/anything", headers={"Authorization": "Bearer "})
        assert resp.status == 401
    finally:
        await stop_harness(h)


async def test_status_reports_counts_and_sms_recipients(harness: Harness) -> None:
    """A delivered dispatch shows its state, per-channel counts and each SMS recipient with its SID."""
    dispatch_id = await dispatched(harness)
    resp = await harness.client.get(f"/v1/dispatches/{dispatch_id}", headers=AUTH)
    doc = await resp.json()
    assert doc["state"] == "delivered"
    assert doc["channels"]["sms"] == {
        "planned": 2,
        "delivered": 2,
        "failed": 0,
        "in_progress": 0,
        "cancelled": 0,
        "skipped": 0,
    }
    assert doc["channels"]["banner"]["delivered"] == 1
    assert doc["message"]["template"]["id"] == "facility-fire"
    targets = {r["target"]: r for r in doc["sms_receipts"]}
    assert set(targets) == {"+15550100001", "+15550100002"}
    assert all(
        r["state"] == "delivered" and r["provider_id"].startswith("SM") and r["receipt"] is None
        for r in targets.values()
    )


async def test_status_of_unknown_and_draft(harness: Harness) -> None:
    """An unknown id is 404; a held draft is awaiting_approval with no channels."""
    resp = await harness.client.get("/v1/dispatches/d-nope", headers=AUTH)
    assert resp.status == 404
    _, body = await harness.post_alert({"message": {"status": "Exercise", "headline": "Drill"}}, "msg_draft")
    resp = await harness.client.get(f"/v1/dispatches/{body['dispatch_id']}", headers=AUTH)
    doc = await resp.json()
    assert doc["state"] == "awaiting_approval" and doc["channels"] == {}


async def test_signed_receipts_are_recorded_once_and_shown_monotonic(harness: Harness) -> None:
    """Signed callbacks become receipt_status events, once per (MessageSid, status); the status API
    shows the most advanced receipt even when an older one arrives last."""
    dispatch_id = await dispatched(harness)
    sid = sms_sid(f"{dispatch_id}:sms:+15550100001:0")
    for status in ("sent", "delivered", "delivered", "sent"):
        resp = await callback(harness, receipt(sid, status, RawDlrDoneDate="2611281405"))
        assert resp.status == 204
    events = [
        e.event async for e in harness.store.events(dispatch_id) if e.event.kind is EventKind.RECEIPT_STATUS
    ]
    assert [e.data["status"] for e in events] == ["sent", "delivered"]
    assert events[1].delivery_key == f"{dispatch_id}:sms:+15550100001:0"
    assert events[1].data["provider_id"] == sid and events[1].data["raw_dlr_done_date"] == "2611281405"
    doc = await (await harness.client.get(f"/v1/dispatches/{dispatch_id}", headers=AUTH)).json()
    receipts = {r["target"]: r["receipt"] for r in doc["sms_receipts"]}
    assert receipts["+15550100001"]["status"] == "delivered"
    assert receipts["+15550100002"] is None


async def test_failed_receipt_keeps_error_code(harness: Harness) -> None:
    """An undelivered receipt records Twilio's ErrorCode; the short /twilio/status path works too."""
    dispatch_id = await dispatched(harness)
    sid = sms_sid(f"{dispatch_id}:sms:+15550100002:0")
    resp = await callback(harness, receipt(sid, "undelivered", ErrorCode="30003"), path="/twilio/status")
    assert resp.status == 204
    events = [
        e.event async for e in harness.store.events(dispatch_id) if e.event.kind is EventKind.RECEIPT_STATUS
    ]
    assert events[0].data["error_code"] == "30003"


async def test_bad_signature_is_refused(harness: Harness) -> None:
    """A callback signed with another token, for another URL, or unsigned, is 403 and records nothing."""
    dispatch_id = await dispatched(harness)
    sid = sms_sid(f"{dispatch_id}:sms:+15550100001:0")
    assert (await callback(harness, receipt(sid, "delivered"), token="wrong-token-000000")).status == 403
    assert (
        await callback(harness, receipt(sid, "delivered"), url="https://evil.example/v1/twilio/status")
    ).status == 403
    assert (await harness.client.post("/v1/twilio/status", data=receipt(sid, "delivered"))).status == 403
    kinds = [e.event.kind async for e in harness.store.events(dispatch_id)]
    assert EventKind.RECEIPT_STATUS not in kinds


async def test_unknown_sid_is_acknowledged_and_not_recorded(harness: Harness) -> None:
    """A SID that matches no delivery answers 200 (no Twilio retry) and records nothing."""
    await dispatched(harness)
    resp = await callback(harness, receipt("SM" + "f" * 32, "delivered"))
    assert resp.status == 200 and (await resp.json())["recorded"] is False
    kinds = [e.event.kind async for e in harness.store.events()]
    assert EventKind.RECEIPT_STATUS not in kinds


async def test_key_in_callback_url_is_used(harness: Harness) -> None:
    """A status callback URL that carries the delivery key is recorded on that delivery."""
    dispatch_id = await dispatched(harness)
    key = f"{dispatch_id}:sms:+15550100002:0"
    path = f"/v1/twilio/status?key={key.replace('+', '%2B')}"
    resp = await callback(harness, receipt(sms_sid(key), "queued"), path=path)
    assert resp.status == 204
    events = [
        e.event async for e in harness.store.events(dispatch_id) if e.event.kind is EventKind.RECEIPT_STATUS
    ]
    assert events[0].delivery_key == key


async def test_missing_token_or_fields(tmp_path: Path) -> None:
    """Without a Twilio auth token the endpoint is unavailable (503); missing fields are 400."""
    h = await start_harness(tmp_path, secrets=make_secrets(twilio_auth_token=None))
    try:
        assert (await h.client.post("/v1/twilio/status", data={"MessageSid": "SM1"})).status == 503
    finally:
        await stop_harness(h)
    h = await start_harness(tmp_path / "2", secrets=make_secrets(twilio_auth_token=SecretStr(TWILIO_TOKEN)))
    try:
        assert (await callback(h, {"MessageSid": "SM1"})).status == 400
    finally:
        await stop_harness(h)
