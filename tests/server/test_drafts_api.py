"""POST /v1/drafts: a person drafts (and with "send": true sends) a message over HTTP, under the
same approval policy, preview refusals and exercise isolation as the command line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.server.helpers import API_TOKEN, PERSON_TOKEN, Harness, person_and_machine_harness

FIRE_BODY = {"template": "facility-fire", "variables": {"location": "Building A, floor 3"}}


async def _post(h: Harness, body: Any, token: str = PERSON_TOKEN) -> tuple[int, dict[str, Any]]:
    resp = await h.client.post("/v1/drafts", json=body, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def _kinds(h: Harness) -> list[str]:
    return [e.event.kind.value async for e in h.store.events()]


async def _events(h: Harness, dispatch_id: str, kind: str) -> list[Mapping[str, Any]]:
    return [e.event.data async for e in h.store.events(dispatch_id) if e.event.kind.value == kind]


async def test_a_template_sent_at_once_records_the_token_holder_as_author_and_sender(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        status, answer = await _post(h, {**FIRE_BODY, "send": True})
        assert status == 202, answer
        assert answer["state"] == "dispatching"
        assert answer["question"].startswith("Send this Actual Alert to ")
        assert "(PRODUCTION)" in answer["question"] and answer["exercise"] is False
        draft_id = answer["draft_id"]
        assert answer["dispatch_id"] == draft_id
        await h.ctx.runner.wait(draft_id)
        (drafted,) = await _events(h, draft_id, "draft_created")
        assert drafted["author"] == "dana"
        (planned,) = await _events(h, draft_id, "dispatch_planned")
        approval = planned["approval"]
        assert approval["sent_by"] == "dana" and approval["approver"] == "dana"
        assert approval["via"] == "api" and approval["identity_basis"] == "api-token"
        assert approval["method"] == "pre_approved_template"
        assert {d.target for d in h.sends()} >= {"+15550100001", "+15550100002"}


async def test_without_send_the_draft_waits_for_the_confirmed_send(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        status, answer = await _post(h, FIRE_BODY)
        assert status == 201, answer
        assert answer["state"] == "draft" and answer["ready"] is True
        assert "dispatch_planned" not in await _kinds(h)
        assert h.sends() == []
        resp = await h.client.post(
            f"/v1/drafts/{answer['draft_id']}/send",
            json={},
            headers={"Authorization": f"Bearer {PERSON_TOKEN}"},
        )
        assert resp.status == 202, await resp.text()
        await h.ctx.runner.wait(answer["draft_id"])
        assert h.sends()


async def test_a_drill_is_named_a_drill_in_the_question(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        status, answer = await _post(h, {**FIRE_BODY, "status": "Exercise"})
        assert status == 201, answer
        assert answer["exercise"] is True
        assert "(exercise targets)" in answer["question"] and "PRODUCTION" not in answer["question"]
        (drafted,) = await _events(h, answer["draft_id"], "draft_created")
        assert drafted["message"]["status"] == "Exercise"


async def test_actual_free_text_still_needs_a_second_person_even_with_send(tmp_path: Path) -> None:
    message = {
        "status": "Actual",
        "event": "Water outage",
        "headline": "Water outage in Building C",
        "description": "There is no running water in Building C until further notice.",
        "instruction": "Use the bottled water on each floor. Do not use the taps in Building C.",
        "audiences": ["all-staff"],
    }
    async with person_and_machine_harness(tmp_path) as h:
        status, answer = await _post(h, {"message": message, "send": True})
        assert status == 202, answer
        assert answer["state"] == "awaiting_approval" and answer["ready"] is False
        assert "approv" in answer["needs"]
        assert "dispatch_planned" not in await _kinds(h)
        assert h.sends() == []


async def test_a_machine_token_drafts_nothing(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        status, answer = await _post(h, {**FIRE_BODY, "send": True}, token=API_TOKEN)
        assert status == 403, answer
        assert "draft_created" not in await _kinds(h)
        status, _ = await _post(
            h, {**FIRE_BODY, "send": True}, token="not-a-token-0123456789abcdefghijklmnop"
        )
        assert status == 401


async def test_bad_bodies_are_refused_with_one_sentence_and_draft_nothing(tmp_path: Path) -> None:
    async with person_and_machine_harness(tmp_path) as h:
        cases = [
            ({"template": "no-such-template"}, 422, "no approved template"),
            ({**FIRE_BODY, "status": "Maybe"}, 422, '"status" must be'),
            ({**FIRE_BODY, "send": "yes"}, 400, '"send" must be true or false'),
            ({"variables": {}}, 400, 'either "template"'),
            ({"template": "facility-fire", "variables": {}}, 422, "location"),
        ]
        for body, want_status, words in cases:
            status, answer = await _post(h, body)
            assert status == want_status, (body, answer)
            assert words in answer["error"], (body, answer)
        assert "draft_created" not in await _kinds(h)
