"""The API refuses (422) a send to a roster audience that resolves to nobody right now: the
webhook before anything is recorded (logged), a draft's send with ``approval_refused`` audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crisiscast.config import Settings
from crisiscast.roster.source import clear_cache
from tests.roster.data import CONTACTS, write
from tests.server.helpers import API_TOKEN, FIRE, TEMPLATES_DIR, Harness, start_harness, stop_harness

NOBODY = "role,who,from,to\nsecurity,Cy Lee,2020-01-01T00:00+00:00,2020-01-02T00:00+00:00\n"
ALWAYS = "role,who,from,to\nsecurity,Cy Lee,2020-01-01T00:00+00:00,2099-01-01T00:00+00:00\n"
ROSTER = {"on-call-security": {"on_call": "security"}, "building-b": {"building": "B"}}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    clear_cache()
    write(tmp_path, "contacts.csv", CONTACTS)
    write(tmp_path, "on-call.csv", NOBODY)
    settings = Settings.model_validate(
        {
            "base_dir": str(tmp_path),
            "templates_dir": str(TEMPLATES_DIR),
            "store": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
            "server": {"public_url": "https://crisiscast.example.org"},
            "policy": {"actual_approvers": 1},
            "channels": {"sms": {"contacts": "contacts.csv"}},
            "roster": {"schedule": "on-call.csv", "audiences": ROSTER},
        }
    )
    h = await start_harness(tmp_path, settings=settings)
    try:
        yield h
    finally:
        await stop_harness(h)


async def test_a_webhook_to_an_empty_roster_audience_is_refused_and_nothing_is_sent(harness: Harness) -> None:
    status, body = await harness.post_alert({**FIRE, "audiences": ["on-call-security"]}, "w-empty")
    assert status == 422
    assert "'on-call-security' resolves to nobody right now" in body["error"]
    assert harness.sends() == [] and await harness.store.dispatches(limit=5) == []
    status, body = await harness.post_alert({**FIRE, "audiences": ["building-b"]}, "w-b")
    assert status == 202, body


async def test_a_draft_whose_audience_emptied_is_refused_at_send_and_audited(
    harness: Harness, tmp_path: Path
) -> None:
    write(tmp_path, "on-call.csv", ALWAYS)
    message = {"status": "Actual", "headline": "Code Silver, Building B. Stay away.",
               "audiences": ["on-call-security"]}
    status, body = await harness.post_alert({"message": message}, "w-draft")
    assert status == 202 and body["state"] == "awaiting_approval", body
    draft_id = body["dispatch_id"]
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    approved = await harness.client.post(f"/v1/drafts/{draft_id}/approvals", headers=auth)
    assert approved.status == 200 and (await approved.json())["ready"] is True
    write(tmp_path, "on-call.csv", NOBODY + "# the shift ended\n")  # nobody is on call any more
    sent = await harness.client.post(f"/v1/drafts/{draft_id}/send", headers=auth)
    assert sent.status == 422
    assert "resolves to nobody right now" in (await sent.json())["error"]
    kinds = [(s.event.kind.value, dict(s.event.data)) async for s in harness.store.events(draft_id)]
    refused = [data for kind, data in kinds if kind == "approval_refused"]
    assert len(refused) == 1 and refused[0]["action"] == "send" and "nobody" in refused[0]["reason"]
    assert "dispatch_planned" not in [k for k, _ in kinds] and harness.sends() == []
    assert json.dumps(refused[0])  # plain JSON in the audit
