"""Banner and MQTT state documents, and the cleared document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crisiscast.adapt.state import cleared_document
from crisiscast.channels.banner.adapt import adapt_banner
from crisiscast.channels.mqtt.adapt import adapt_mqtt
from crisiscast.config import PolicyConfig
from crisiscast.message import MessageText, MsgType, Severity, Urgency
from tests.adapt.factory import WEB, message

POLICY = PolicyConfig()
KEYS = {
    "id", "status", "msg_type", "severity", "urgency", "event", "headline", "instruction", "description",
    "web", "language", "translations", "issued_at", "sent", "expires_at", "exercise", "references",
}  # fmt: skip
SENT = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)


def test_active_document_has_every_agreed_key() -> None:
    """An alert renders as an active, JSON-able document with the agreed keys."""
    m = message(
        identifier="alert-1",
        sent=SENT,
        expires=SENT + timedelta(hours=2),
        event="Fire",
        severity=Severity.SEVERE,
        urgency=Urgency.IMMEDIATE,
        instruction="Use the east stairs.",
        web=WEB,
        translations={"es": MessageText(headline="Incendio", instruction="Use las escaleras.")},
    )
    issued = SENT + timedelta(minutes=3)  # crisiscast's time of issue, not the sender's sent
    document = adapt_banner(m, POLICY, issued_at=issued)
    assert set(document) == KEYS
    assert json.loads(json.dumps(document)) == document
    assert document["status"] == "active"
    assert document["severity"] == "Severe" and document["urgency"] == "Immediate"
    assert document["issued_at"] == "2026-11-28T14:08:00+00:00"
    assert document["sent"] == "2026-11-28T14:05:00+00:00"
    assert document["expires_at"] == "2026-11-28T16:05:00+00:00"
    assert document["exercise"] is False
    assert document["translations"] == {
        "es": {"headline": "Incendio", "instruction": "Use las escaleras.", "web": WEB}
    }
    assert adapt_mqtt(m, POLICY, issued_at=issued) == document


def test_cancel_renders_cleared() -> None:
    """A Cancel message is a cleared document that names the alert it cancels."""
    m = message(msg_type=MsgType.CANCEL, references=("alert-1",), headline="All clear")
    document = adapt_banner(m, POLICY)
    assert document["status"] == "cleared"
    assert document["references"] == ["alert-1"]


def test_cleared_document_of_an_alert() -> None:
    """cleared_document(message) is the same document with status cleared."""
    m = message(identifier="alert-1")
    document = cleared_document(m)
    assert document["id"] == "alert-1"
    assert document["status"] == "cleared"
    assert set(document) == KEYS
