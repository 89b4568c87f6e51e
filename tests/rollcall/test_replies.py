"""Replies in through Twilio's signed inbound webhook, and the roll-call they make."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from crisiscast.audit.events import EventKind
from crisiscast.message import CrisisMessage, Status
from crisiscast.rollcall.poll import Poll
from tests.server.helpers import (
    API_TOKEN,
    PERSON_TOKEN,
    TWILIO_TOKEN,
    Harness,
    person_and_machine_harness,
)

URL = "https://crisiscast.example.org/v1/twilio/inbound"
ALICE, BOB = "+15550100001", "+15550100002"  # the harness's SMS targets
POLL = Poll.model_validate(
    {
        "answers": [
            {"code": "1", "label": {"en": "I am safe"}, "words": ["safe"]},
            {"code": "2", "label": {"en": "I need help"}},
        ],
        "deadline_min": 30,
    }
)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with person_and_machine_harness(tmp_path) as h:
        yield h


async def _polled(h: Harness, dispatch_id: str, *, sent: datetime | None = None) -> str:
    message = CrisisMessage(
        status=Status.ACTUAL, headline="Fire in Building B: reply if you are safe", poll=POLL,
        sent=sent or datetime.now(UTC),
    )  # fmt: skip
    await h.ctx.runner.start(message, dispatch_id=dispatch_id, approval={"approver": "test"}, source="test")
    report = await h.ctx.runner.wait(dispatch_id)
    assert report is not None and report.ok
    return dispatch_id


async def _reply(h: Harness, number: str, body: str, sid: str, *, signed: bool = True) -> tuple[int, str]:
    params = {"From": number, "To": "+15550009999", "Body": body, "MessageSid": sid}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(URL, params)
    resp = await h.client.post("/v1/twilio/inbound", data=params, headers=headers)
    return resp.status, await resp.text()


async def _replies(h: Harness, dispatch_id: str) -> list[dict[str, object]]:
    events = [e.event async for e in h.store.events(dispatch_id)]
    return [dict(e.data) for e in events if e.kind is EventKind.REPLY_RECEIVED]


async def test_mixed_replies_make_an_exact_roll_call(harness: Harness) -> None:
    """Answers in the forms people type are recorded on the chain; unknown text gets how to answer."""
    dispatch_id = await _polled(harness, "d-poll-1")
    status, twiml = await _reply(harness, ALICE, " safe. ", "SM1")
    assert status == 200 and "Thank you, recorded: I am safe." in twiml
    status, twiml = await _reply(harness, BOB, "what?", "SM2")
    assert status == 200 and "Reply 1 = I am safe, 2 = I need help" in twiml
    status, _ = await _reply(harness, BOB, "2", "SM3")
    assert status == 200
    resp = await harness.client.get(
        f"/v1/dispatches/{dispatch_id}/rollcall", headers={"Authorization": f"Bearer {PERSON_TOKEN}"}
    )
    document = await resp.json()
    assert document["counts"]["answered"] == 2 and document["counts"]["not_answered"] == 0
    assert [a["count"] for a in document["answers"]] == [1, 1]
    states = {p["number"]: (p["state"], p["code"]) for p in document["people"]}
    assert states == {ALICE: ("answered", "1"), BOB: ("answered", "2")}
    assert (await harness.store.verify()).ok


async def test_stop_is_an_opt_out_never_an_answer(harness: Harness) -> None:
    """A STOP is recorded and surfaced as opted out; the carrier answers it, crisiscast does not."""
    dispatch_id = await _polled(harness, "d-poll-2")
    status, twiml = await _reply(harness, ALICE, "STOP", "SM4")
    assert status == 200 and "<Message>" not in twiml
    [reply] = await _replies(harness, dispatch_id)
    assert reply["kind"] == "opt_out" and reply["code"] is None
    resp = await harness.client.get(
        f"/v1/dispatches/{dispatch_id}/rollcall", headers={"Authorization": f"Bearer {PERSON_TOKEN}"}
    )
    states = {p["number"]: p["state"] for p in (await resp.json())["people"]}
    assert states == {ALICE: "opted_out", BOB: "not_answered"}


async def test_unsigned_or_forged_replies_are_refused_and_not_recorded(harness: Harness) -> None:
    dispatch_id = await _polled(harness, "d-poll-3")
    status, _ = await _reply(harness, ALICE, "1", "SM5", signed=False)
    assert status == 403
    params = {"From": ALICE, "To": "+15550009999", "Body": "1", "MessageSid": "SM6"}
    forged = RequestValidator("not-the-token-000000").compute_signature(URL, params)
    resp = await harness.client.post(
        "/v1/twilio/inbound", data=params, headers={"X-Twilio-Signature": forged}
    )
    assert resp.status == 403
    assert await _replies(harness, dispatch_id) == []


async def test_a_retried_webhook_is_recorded_once_and_a_late_answer_is_flagged(harness: Harness) -> None:
    """Twilio's retry (same MessageSid) is a duplicate; an answer after the deadline counts, marked late."""
    dispatch_id = await _polled(harness, "d-poll-4", sent=datetime.now(UTC) - timedelta(minutes=45))
    for _ in range(2):
        status, _ = await _reply(harness, ALICE, "1", "SM7")
        assert status == 200
    [reply] = await _replies(harness, dispatch_id)
    assert reply["late"] is True and reply["code"] == "1"


async def test_a_machine_token_sees_counts_not_who(harness: Harness) -> None:
    """Staff numbers are for people: a status-only (machine) token gets the counts alone."""
    dispatch_id = await _polled(harness, "d-poll-5")
    resp = await harness.client.get(
        f"/v1/dispatches/{dispatch_id}/rollcall", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    document = await resp.json()
    assert document["counts"]["not_answered"] == 2 and "people" not in document
