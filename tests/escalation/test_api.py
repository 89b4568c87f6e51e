"""``GET /v1/dispatches/{id}/escalation``: the steps, for a person's token and a machine's."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crisiscast.contacts import ContactsLoad
from crisiscast.dispatch import Dispatcher
from crisiscast.escalation.loop import EscalationLoop
from tests.escalation.conftest import BEN, Channels, Clock, polled_message, staff
from tests.server.helpers import (
    API_TOKEN,
    PERSON_TOKEN,
    Harness,
    person_and_machine_harness,
)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with person_and_machine_harness(tmp_path) as h:
        yield h


def _ben_unsupervised() -> ContactsLoad:
    people = tuple(dataclasses.replace(c, supervisor=None) if c.phone == BEN else c for c in staff().contacts)
    return ContactsLoad(contacts=people, problems=())


async def _get(h: Harness, dispatch_id: str, token: str) -> tuple[int, dict[str, object]]:
    resp = await h.client.get(
        f"/v1/dispatches/{dispatch_id}/escalation", headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status, await resp.json()


async def test_the_schedule_of_a_sent_alert(harness: Harness) -> None:
    await harness.ctx.runner.start(
        polled_message(), dispatch_id="d-api-1", approval={"approver": "t"}, source="test"
    )
    report = await harness.ctx.runner.wait("d-api-1")
    assert report is not None and report.ok
    status, document = await _get(harness, "d-api-1", PERSON_TOKEN)
    assert status == 200 and document["stopped"] is None
    steps = document["steps"]
    assert isinstance(steps, list)
    assert [(s["step"], s["action"], s["status"]) for s in steps] == [
        (1, "resend_sms", "waiting"), (2, "call", "waiting"), (3, "notify_supervisor", "waiting")
    ]  # fmt: skip
    clock = Clock()
    clock.advance(minutes=30)
    loop = EscalationLoop(
        harness.settings, harness.secrets, Dispatcher(harness.store), owner="t", build=Channels().build,
        now=clock.now, contacts=_ben_unsupervised, send=False,
    )  # fmt: skip
    assert len(await loop.tick()) == 3
    _, document = await _get(harness, "d-api-1", PERSON_TOKEN)
    assert document["steps"][2]["not_reached"] == [  # type: ignore[index]
        {"number": BEN, "reason": "no supervisor or on-call person is known for them"}
    ]
    status, document = await _get(harness, "d-api-1", API_TOKEN)  # a machine's token: counts, never numbers
    assert status == 200 and BEN not in str(document)
    assert document["steps"][2]["not_reached"] == 1  # type: ignore[index]
    status, document = await _get(harness, "no-such-dispatch", PERSON_TOKEN)
    assert status == 404
    resp = await harness.client.get("/v1/dispatches/d-api-1/escalation")
    assert resp.status == 401
