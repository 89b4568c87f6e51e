"""Cancelling a 1,000-recipient SMS fan-out half-way, from another process (D6).

The alert is sent by one ``crisiscast send`` process; ``crisiscast cancel`` runs in a second
process while the fake Twilio (20 ms latency, SMS concurrency 20) is still receiving it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from crisiscast.audit.events import EventKind
from crisiscast.channels.registry import names
from crisiscast.delivery import DeliveryState
from tests.lifecycle.conftest import Team

pytestmark = pytest.mark.asyncio

RECIPIENTS = [f"+1617555{n:04d}" for n in range(2000, 3000)]
WAIT_S = 30.0


class _CountingLog(list[Any]):
    """The fake's request log, setting ``reached`` once it holds ``threshold`` requests."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold
        self.reached = asyncio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        if len(self) >= self.threshold:
            self.reached.set()


def _form(body: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body).items()}


async def test_cancel_half_way_stops_the_rest_and_all_clear_reaches_exactly_the_reached(
    team: Team,
) -> None:
    """The fan-out stops: every delivery not sent ends ``cancelled`` (and none is sent after it
    ends so); the all-clear texts exactly the numbers the alert reached. How soon after the cancel
    the last request leaves is a figure for ``bench/``, not an assertion here."""
    rows = "".join(f"Staff {i},{n},staff,en\n" for i, n in enumerate(RECIPIENTS))
    off: dict[str, Any] = {name: {"enabled": False} for name in names() if name != "sms"}
    team.write_config(**off, sms={"max_concurrency": 20, "max_requests_per_s": 200.0, "burst": 10})
    team.contacts.write_text("name,phone,groups,language\n" + rows, encoding="utf-8")
    twilio: Any = team.sandbox.fakes["twilio"]
    twilio.faults.latency_s = 0.02
    log = twilio.requests = _CountingLog(threshold=200)

    sending = asyncio.create_task(
        team.run_as(
            "alice", "send", "--template", "facility-fire", "--var", "location=Building C", "--yes", "--json"
        )
    )
    reached_200 = asyncio.create_task(log.reached.wait())
    async with asyncio.timeout(WAIT_S):
        await asyncio.wait([sending, reached_200], return_when=asyncio.FIRST_COMPLETED)
    assert not sending.done(), "the fan-out finished (or failed) before it could be cancelled"
    dispatch_id = await _dispatch_id(team)
    cancel = await team.run_as("bob", "cancel", dispatch_id, "--reason", "wrong building", "--yes", "--json")
    sent = await sending
    assert cancel.code == 0, cancel.stderr
    assert sent.code == 3, sent.stderr  # not everything was delivered: it was cancelled

    events = await team.events(dispatch_id)
    assert any(e.event.kind is EventKind.DISPATCH_CANCEL_REQUESTED for e in events)
    bodies = [(r, _form(r.body).get("Body", "")) for r in twilio.requests]
    alert = [r for r, body in bodies if body.startswith("Facility alert: fire in Building C")]
    cleared = [_form(r.body) for r, body in bodies if body.startswith("All clear")]
    assert len(alert) + len(cleared) == len(twilio.requests)

    records = await team.deliveries(dispatch_id)
    states = {s: sum(1 for r in records if r.state is s) for s in DeliveryState}
    assert len(records) == len(RECIPIENTS)
    assert states[DeliveryState.CANCELLED] > 0 and states[DeliveryState.DELIVERED] > 0
    assert states[DeliveryState.DELIVERED] + states[DeliveryState.CANCELLED] == len(RECIPIENTS)
    reached = {r.delivery.target for r in records if r.state is DeliveryState.DELIVERED}
    assert reached == {_form(r.body)["To"] for r in alert if 200 <= r.status < 300}

    all_clear = json.loads(cancel.stdout)
    assert all_clear["stopped"]["delivered"] == len(reached)
    assert sorted(f["To"] for f in cleared) == sorted(reached)
    assert all_clear["channels"]["sms"]["delivered"] == len(reached)


async def _dispatch_id(team: Team) -> str:
    """The id of the one dispatch in the audit store (the alert being sent)."""
    from crisiscast.audit.sqlite import SqliteStore

    store = SqliteStore(str(team.audit_db))
    await store.open()
    try:
        (record,) = await store.dispatches()
        return record.dispatch_id
    finally:
        await store.close()
