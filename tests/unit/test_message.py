"""The crisis message model: CAP-shaped, validated, immutable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from crisiscast.message import CrisisMessage, MsgType, Status


def test_minimal_message_gets_identifier_and_sent_time() -> None:
    """Only status and headline are required; identifier and sent are filled in."""
    msg = CrisisMessage(status=Status.EXERCISE, headline="Fire drill in Building A")
    assert msg.identifier.startswith("crisiscast-")
    assert msg.sent.tzinfo is not None
    assert msg.msg_type is MsgType.ALERT


def test_update_must_reference_the_original() -> None:
    """An Update or Cancel without references is refused."""
    with pytest.raises(ValidationError, match="references"):
        CrisisMessage(status=Status.ACTUAL, msg_type=MsgType.UPDATE, headline="x")


def test_expiry_before_sent_is_refused() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="expires"):
        CrisisMessage(status=Status.ACTUAL, headline="x", sent=now, expires=now - timedelta(minutes=1))


def test_text_falls_back_to_main_language() -> None:
    msg = CrisisMessage(
        status=Status.ACTUAL,
        headline="Fire",
        translations={"es": {"headline": "Incendio"}},
    )
    assert msg.text("es").headline == "Incendio"
    assert msg.text("fr").headline == "Fire"
    assert msg.languages == ("en", "es")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        CrisisMessage(status=Status.ACTUAL, headline="x", expires=datetime(2030, 1, 1))
