"""A sender's wrong clock is corrected on receipt, recorded, and never turns into a silent failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiscast.audit.events import EventKind
from crisiscast.message import CrisisMessage
from tests.server.helpers import Harness


def cap_free_text(sent: datetime, expires: datetime) -> str:
    return f"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>FP-CLOCK-2</identifier><sender>firepanel@hospital.example</sender>
  <sent>{sent.isoformat(timespec="seconds")}</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire alarm</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <expires>{expires.isoformat(timespec="seconds")}</expires>
    <headline>Fire alarm in Building C</headline></info>
</alert>"""


def cap_template(sent: datetime, expires: datetime | None = None) -> str:
    expiry = f"<expires>{expires.isoformat(timespec='seconds')}</expires>" if expires else ""
    return f"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>FP-CLOCK-1</identifier><sender>firepanel@hospital.example</sender>
  <sent>{sent.isoformat(timespec="seconds")}</sent><status>Exercise</status><msgType>Alert</msgType>
  <scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>{expiry}
    <parameter><valueName>crisiscast-template</valueName><value>facility-fire</value></parameter>
    <parameter><valueName>crisiscast-var:location</valueName><value>Building C, floor 1</value></parameter>
  </info>
</alert>"""


async def _planned(harness: Harness, dispatch_id: str) -> tuple[CrisisMessage, dict[str, object]]:
    events = [e async for e in harness.store.events(dispatch_id)]
    planned = next(e for e in events if e.event.kind is EventKind.DISPATCH_PLANNED)
    data = planned.event.data
    return CrisisMessage.model_validate(data["message"]), dict(data["approval"])


async def test_a_sent_time_from_the_future_is_rebased_on_receipt_and_recorded(harness: Harness) -> None:
    """`sent` two hours ahead: accepted on crisiscast's clock, and the audit says what was corrected."""
    now = datetime.now(UTC)
    status, body = await harness.post_alert(
        cap_template(now + timedelta(hours=2)), "clock-1", content_type="application/cap+xml"
    )
    assert status == 202 and body["state"] == "dispatching", body
    report = await harness.ctx.runner.wait(body["dispatch_id"])
    assert report is not None and report.ok
    message, approval = await _planned(harness, body["dispatch_id"])
    assert abs((message.sent - now).total_seconds()) < 60
    assert "2 h 0 min ahead of crisiscast's clock" in str(approval["sender_clock"])


async def test_a_sent_time_from_the_past_keeps_its_expiry_span(harness: Harness) -> None:
    """A local time labelled Z (five hours behind) with a one-hour expiry: accepted (held as a
    free-text draft) with an expiry an hour after receipt, not five hours expired."""
    sent = datetime.now(UTC) - timedelta(hours=5)
    status, body = await harness.post_alert(
        cap_free_text(sent, expires=sent + timedelta(hours=1)), "clock-2", content_type="application/cap+xml"
    )
    assert status == 202 and body["state"] == "awaiting_approval", body
    events = [e async for e in harness.store.events(body["dispatch_id"])]
    draft = next(e for e in events if e.event.kind is EventKind.DRAFT_CREATED).event.data
    message = CrisisMessage.model_validate(draft["message"])
    assert message.expires is not None and message.expires > datetime.now(UTC) + timedelta(minutes=50)
    assert "5 h 0 min behind crisiscast's clock" in str(draft["sender_clock"])


async def test_an_alert_that_expired_before_it_arrived_is_refused(harness: Harness) -> None:
    """Never a 202 for an alert that cannot be sent: expired on arrival is a 422 sentence."""
    now = datetime.now(UTC)
    status, body = await harness.post_alert(
        cap_free_text(now - timedelta(minutes=2), expires=now - timedelta(minutes=1)),
        "clock-3",
        content_type="application/cap+xml",
    )
    assert status == 422
    assert "expired" in body["error"] and "nothing was sent" in body["error"]
    assert harness.sends() == []
