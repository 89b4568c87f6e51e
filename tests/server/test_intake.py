"""POST /v1/alerts over real HTTP: acceptance, drafts, every rejection, and replay safety."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiscast.audit.events import EventKind
from crisiscast.delivery import DeliveryState
from tests.server.helpers import (
    FIRE,
    SECRET_B,
    Harness,
    make_settings,
    signed_headers,
    start_harness,
    stop_harness,
)

CAP_FREE_TEXT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>FP-2026-0042</identifier><sender>firepanel@hospital.example</sender>
  <sent>2026-11-28T14:05:00-05:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire alarm</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <headline>Fire alarm in Building C</headline></info>
</alert>"""


def cap_template(template: str = "facility-fire", location: str = "Building C, floor 1") -> str:
    return f"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>FP-2026-0043</identifier><sender>firepanel@hospital.example</sender>
  <sent>{datetime.now(UTC).isoformat(timespec="seconds")}</sent><status>Exercise</status><msgType>Alert</msgType>
  <scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <parameter><valueName>crisiscast-template</valueName><value>{template}</value></parameter>
    <parameter><valueName>crisiscast-var:location</valueName><value>{location}</value></parameter>
  </info>
</alert>"""


async def test_template_is_dispatched_and_audited(harness: Harness) -> None:
    """A signed template request answers 202 dispatching; every channel receives it; the audit
    records the template's id, version and content hash with the approval."""
    status, body = await harness.post_alert(FIRE)
    assert status == 202
    assert body["state"] == "dispatching"
    assert body["status_url"] == f"https://crisiscast.example.org/v1/dispatches/{body['dispatch_id']}"
    report = await harness.ctx.runner.wait(body["dispatch_id"])
    assert report is not None and report.ok
    assert {d.channel for d in harness.sends()} == {"sms", "banner"}
    assert all("Building A, floor 3" in d.body for d in harness.sends())
    events = [e async for e in harness.store.events(body["dispatch_id"])]
    planned = next(e for e in events if e.event.kind is EventKind.DISPATCH_PLANNED)
    approval = planned.event.data["approval"]
    assert approval["method"] == "pre_approved_template"
    assert approval["webhook_id"] == "msg_1"
    template = approval["template"]
    assert (
        template["id"] == "facility-fire" and template["version"] == 1 and len(template["content_hash"]) == 64
    )


async def test_free_text_is_held_as_draft_and_never_sent(harness: Harness) -> None:
    """A full message that is not a template becomes a draft awaiting approval; nothing is sent."""
    status, body = await harness.post_alert(
        {"message": {"status": "Actual", "headline": "Evacuate wing B now"}}
    )
    assert status == 202
    assert body["state"] == "awaiting_approval"
    assert "approve" in body["reason"]
    record = await harness.store.dispatch(body["dispatch_id"])
    assert record is not None and record.state == "draft"
    assert harness.built == [] and harness.sends() == []
    kinds = [e.event.kind async for e in harness.store.events(body["dispatch_id"])]
    assert kinds == [EventKind.DRAFT_CREATED]


async def test_cap_free_text_is_held_as_draft(harness: Harness) -> None:
    """A CAP alert that names no template is free text: held as a draft with the CAP fields mapped."""
    status, body = await harness.post_alert(CAP_FREE_TEXT, content_type="application/cap+xml")
    assert status == 202 and body["state"] == "awaiting_approval"
    record = await harness.store.dispatch(body["dispatch_id"])
    assert record is not None
    assert record.message["identifier"] == "FP-2026-0042"
    assert record.message["headline"] == "Fire alarm in Building C"
    assert harness.sends() == []


async def test_cap_naming_a_template_is_dispatched(harness: Harness) -> None:
    """A CAP alert whose parameters name a template sends the template's approved words."""
    body_xml = cap_template()
    status, body = await harness.post_alert(body_xml, content_type="application/xml")
    assert status == 202 and body["state"] == "dispatching", body
    await harness.ctx.runner.wait(body["dispatch_id"])
    sent = harness.sends()
    assert sent and all(d.body == "Facility alert: fire in Building C, floor 1" for d in sent)
    record = await harness.store.dispatch(body["dispatch_id"])
    assert record is not None and record.message["status"] == "Exercise"


async def test_either_rotation_secret_is_accepted(harness: Harness) -> None:
    """During a rotation both configured secrets verify."""
    status, _ = await harness.post_alert(FIRE, "msg_a")
    assert status == 202
    status, _ = await harness.post_alert(FIRE, "msg_b", secret=SECRET_B)
    assert status == 202


async def test_bad_signature_is_401(harness: Harness) -> None:
    """A body signed with an unknown secret, or altered after signing, is refused and starts nothing."""
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    status, body = await harness.post_alert(FIRE, secret=other)
    assert status == 401 and "does not match" in body["error"]
    raw = json.dumps(FIRE)
    headers = signed_headers(raw)
    resp = await harness.client.post(
        "/v1/alerts", data=raw.replace("Building A", "Building B"), headers=headers
    )
    assert resp.status == 401
    assert harness.built == []


async def test_missing_headers_are_401(harness: Harness) -> None:
    """Each Standard Webhooks header is required; the answer names the missing one."""
    raw = json.dumps(FIRE)
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = signed_headers(raw)
        del headers[header]
        resp = await harness.client.post("/v1/alerts", data=raw, headers=headers)
        assert resp.status == 401
        assert header in (await resp.json())["error"]
    assert harness.built == []


async def test_stale_and_future_timestamps_are_401(harness: Harness) -> None:
    """A correctly signed request more than 300 s old or in the future is refused."""
    for delta in (timedelta(seconds=-301), timedelta(seconds=301), timedelta(hours=-2)):
        status, body = await harness.post_alert(FIRE, f"msg{delta}", timestamp=datetime.now(UTC) + delta)
        assert status == 401 and "300 s" in body["error"]
    status, _ = await harness.post_alert(FIRE, "msg_ok", timestamp=datetime.now(UTC) - timedelta(seconds=200))
    assert status == 202


async def test_oversized_body_is_413_before_verification(harness: Harness) -> None:
    """A Content-Length over the cap is refused without reading or verifying the body."""
    big = json.dumps({**FIRE, "padding": "x" * 70_000})
    resp = await harness.client.post("/v1/alerts", data=big, headers=signed_headers(big))
    assert resp.status == 413
    # Unsigned too: the size check comes before authentication.
    resp = await harness.client.post("/v1/alerts", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_oversized_chunked_body_is_413(harness: Harness) -> None:
    """A chunked body (no Content-Length) is cut off once it grows past the cap."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    resp = await harness.client.post(
        "/v1/alerts", data=chunks(), headers={"Content-Type": "application/json", "webhook-id": "m"}
    )
    assert resp.status == 413
    assert harness.ctx.metrics.webhooks.labels(result="rejected_413")._value.get() == 1


async def test_wrong_content_type_is_415(harness: Harness) -> None:
    """Only JSON and CAP XML are accepted."""
    raw = json.dumps(FIRE)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        resp = await harness.client.post(
            "/v1/alerts", data=raw, headers=signed_headers(raw, content_type=content_type)
        )
        assert resp.status == 415


async def test_invalid_content_is_422_with_the_reason(harness: Harness) -> None:
    """Authentic but unusable alerts are refused with the precise reason, and bind nothing."""
    cases = [
        ({"template": "code-red", "status": "Actual"}, "no approved template 'code-red'"),
        ({"template": "facility-fire", "status": "Actual"}, "needs the variable 'location'"),
        (
            {"template": "facility-fire", "status": "Actual", "variables": {"location": "x" * 99}},
            "too long: 99 characters",
        ),
        ({"template": "facility-fire", "variables": {"location": "A"}}, "status"),
        (
            {"template": "facility-fire", "status": "Actual", "version": 9, "variables": {"location": "A"}},
            "version",
        ),
        (
            {
                "template": "facility-fire",
                "status": "Actual",
                "variables": {"location": "A"},
                "channels": ["fax"],
            },
            "fax",
        ),
        ({"hello": "world"}, '"template"'),
        ({"message": {"status": "Actual"}}, "message.headline"),
    ]
    for n, (payload, expected) in enumerate(cases):
        status, body = await harness.post_alert(payload, f"msg_422_{n}")
        assert status == 422, payload
        assert expected in body["error"], body
    status, body = await harness.post_alert("{not json", "msg_bad_json")
    assert status == 422 and "not valid JSON" in body["error"]
    status, body = await harness.post_alert("<alert/>", "msg_bad_cap", content_type="application/cap+xml")
    assert status == 422 and "CAP 1.2" in body["error"]
    # A rejected id is not bound: the corrected alert with the same id is accepted.
    status, body = await harness.post_alert(FIRE, "msg_422_0")
    assert status == 202 and body["state"] == "dispatching"


async def test_number_too_long_for_python_is_422(harness: Harness) -> None:
    """A JSON number with more digits than Python converts is an invalid body (422), not a 500."""
    body = '{"template": "facility-fire", "status": "Actual", "version": ' + "1" * 5000 + "}"
    status, answer = await harness.post_alert(body, "msg_long_number")
    assert status == 422 and "not valid JSON" in answer["error"]


async def test_same_webhook_id_returns_the_same_dispatch(harness: Harness) -> None:
    """A retry with the same webhook-id (fresh timestamp and signature) answers the first dispatch."""
    _, first = await harness.post_alert(FIRE, "msg_retry")
    await harness.ctx.runner.wait(first["dispatch_id"])
    status, again = await harness.post_alert(FIRE, "msg_retry")
    assert status == 202
    assert again["dispatch_id"] == first["dispatch_id"]
    assert again["duplicate"] is True
    assert again["state"] == "delivered"
    assert len(harness.built) == 1


async def test_replay_100_times_20_at_once_makes_one_dispatch(harness: Harness) -> None:
    """The same signed webhook delivered 100 times, 20 concurrently, yields exactly one dispatch,
    one plan and one send per target."""
    raw = json.dumps(FIRE)
    headers = signed_headers(raw, "msg_storm")
    answers: list[str] = []
    semaphore = asyncio.Semaphore(20)

    async def one() -> None:
        async with semaphore:
            resp = await harness.client.post("/v1/alerts", data=raw, headers=headers)
            assert resp.status == 202
            answers.append((await resp.json())["dispatch_id"])

    await asyncio.gather(*(one() for _ in range(100)))
    assert len(answers) == 100 and len(set(answers)) == 1
    await harness.ctx.runner.wait(answers[0])
    assert len(harness.built) == 1
    assert len(harness.sends()) == 3  # two SMS recipients and the banner, once each
    plans = [e async for e in harness.store.events() if e.event.kind is EventKind.DISPATCH_PLANNED]
    assert len(plans) == 1
    records = await harness.store.deliveries(answers[0])
    assert {r.state for r in records} == {DeliveryState.DELIVERED}


async def test_template_update_or_cancel_is_held(harness: Harness) -> None:
    """A template Cancel from a webhook is held for an operator (crisiscast cancel reaches exactly
    the original's recipients); the draft is one the approval workflow recognises as a verified
    template from a webhook."""
    from crisiscast.lifecycle.drafts import load_draft, template_verified

    payload = {
        "template": "all-clear",
        "status": "Actual",
        "msg_type": "Cancel",
        "references": ["d-original"],
        "variables": {"alert": "Facility alert: fire in Building A"},
    }
    status, body = await harness.post_alert(payload, "msg_cancel")
    assert status == 202 and body["state"] == "awaiting_approval"
    assert "crisiscast update or cancel" in body["reason"]
    assert harness.sends() == []
    draft = await load_draft(harness.store, body["dispatch_id"])
    assert draft.author == "webhook:webhook" and draft.source == "webhook"
    assert template_verified(draft.message, draft.source, harness.ctx.catalog)


async def test_policy_requiring_template_approvers_holds_templates(tmp_path: Path) -> None:
    """When the policy wants approvers even for templates, a webhook template is held, not sent."""
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"policy": settings.policy.model_copy(update={"template_approvers": 1})}
    )
    h = await start_harness(tmp_path, settings=settings)
    try:
        status, body = await h.post_alert(FIRE)
        assert status == 202 and body["state"] == "awaiting_approval"
        assert "requires approvers" in body["reason"]
        assert h.built == []
    finally:
        await stop_harness(h)
