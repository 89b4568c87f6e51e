"""A template carries a poll in each language; the staff call-back asks 1 = can come in, 2 = cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.config import load_settings
from crisiscast.message import MsgType, Status
from crisiscast.rollcall.poll import poll_line, read_answer
from crisiscast.templates import Template, TemplateCatalog, load_templates

ROOT = Path(__file__).resolve().parents[2]


def _catalog() -> TemplateCatalog:
    settings = load_settings(ROOT / "config" / "crisiscast.toml")
    return load_templates(ROOT / "config" / "templates", settings.preflight)  # the quality gate at load


VALUES = {"count": 6, "role": "nurses", "report_to": "the Labor Pool, Building A"}


def test_the_staff_callback_template_passes_the_gate_and_renders_its_poll() -> None:
    template = _catalog().get("staff-callback")
    message = template.render(VALUES, status=Status.ACTUAL)
    assert message.poll is not None and [a.code for a in message.poll.answers] == ["1", "2"]
    assert poll_line(message.poll, "es") == "Responda 1 = Puedo venir, 2 = No puedo venir"
    assert [read_answer(t, message.poll) for t in ("1", " 2.", "uno", "CAN", "can't", "No puedo")] == [
        "1", "2", "1", "1", "2", "2",
    ]
    update = template.render(VALUES, status=Status.ACTUAL, msg_type=MsgType.UPDATE, references=("x",))
    assert update.poll == message.poll
    cancel = template.render(VALUES, status=Status.ACTUAL, msg_type=MsgType.CANCEL, references=("x",))
    assert cancel.poll is None


def test_the_staff_callback_sms_fits_with_its_poll_line() -> None:
    from crisiscast.channels.sms.adapt import adapt_sms
    from crisiscast.channels.sms.config import SmsConfig

    settings = load_settings(ROOT / "config" / "crisiscast.toml")
    message = _catalog().get("staff-callback").render(VALUES, status=Status.ACTUAL)
    for language in ("en", "es"):
        sms = adapt_sms(message, language, SmsConfig(), settings.policy)
        assert message.poll is not None and sms.parts[0].endswith(poll_line(message.poll, language))


def test_a_poll_answer_without_a_label_in_every_language_is_refused() -> None:
    raw = _catalog().get("staff-callback").model_dump(exclude={"content_hash", "source"})
    raw["poll"]["answers"][1]["label"] = {"en": "I cannot come in"}
    with pytest.raises(ValueError, match="poll answer 2 has no label in es"):
        Template.model_validate(raw)


def test_the_staff_callback_escalates_only_its_alert() -> None:
    """The text again at 10 min, the supervisor (or who is on call) at 20, both before the poll
    closes; an Update made from the template never escalates."""
    template = _catalog().get("staff-callback")
    message = template.render(VALUES, status=Status.ACTUAL)
    assert [(s.after_min, s.action.value) for s in message.escalation] == [
        (10, "resend_sms"),
        (20, "notify_supervisor"),
    ]
    assert message.poll is not None and message.escalation[-1].after_min < message.poll.deadline_min
    update = template.render(VALUES, status=Status.ACTUAL, msg_type=MsgType.UPDATE, references=("x",))
    assert update.escalation == ()
