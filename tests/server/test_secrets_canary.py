"""Canary secrets never leave the server: not in answers, logs, or the audit."""

from __future__ import annotations

import json

from structlog.testing import capture_logs
from twilio.request_validator import RequestValidator

from tests.server.helpers import API_TOKEN, FIRE, SECRET_A, SECRET_B, TWILIO_TOKEN, Harness, signed_headers


async def test_no_secret_in_answers_logs_or_audit(harness: Harness) -> None:
    """Across accepted, rejected and status requests, no webhook secret, API token or Twilio token
    appears in a response body, a log event or an audit event."""
    canaries = [SECRET_A, SECRET_B, SECRET_A.removeprefix("whsec_"), API_TOKEN, TWILIO_TOKEN]
    bodies: list[str] = []
    with capture_logs() as logs:
        _, ok = await harness.post_alert(FIRE, "canary-1")
        await harness.ctx.runner.wait(ok["dispatch_id"])
        raw = json.dumps(FIRE)
        bad = signed_headers(raw, "canary-2")
        bad["webhook-signature"] = "v1," + SECRET_A.removeprefix("whsec_")
        for headers in (bad, {"Content-Type": "application/json"}):
            resp = await harness.client.post("/v1/alerts", data=raw, headers=headers)
            bodies.append(await resp.text())
        for auth in (f"Bearer {API_TOKEN}", f"Bearer {API_TOKEN}x", f"Basic {TWILIO_TOKEN}"):
            resp = await harness.client.get(
                f"/v1/dispatches/{ok['dispatch_id']}", headers={"Authorization": auth}
            )
            bodies.append(await resp.text())
        params = {"MessageSid": "SMx", "MessageStatus": "delivered"}
        signature = RequestValidator("not-the-token").compute_signature("http://x/v1/twilio/status", params)
        resp = await harness.client.post(
            "/v1/twilio/status", data=params, headers={"X-Twilio-Signature": signature}
        )
        bodies.append(await resp.text())
    audit = [json.dumps(e.to_json(), default=str) async for e in harness.store.events()]
    everything = "\n".join([*bodies, *(repr(entry) for entry in logs), *audit])
    for canary in canaries:
        assert canary not in everything
