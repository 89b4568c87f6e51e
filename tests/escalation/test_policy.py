"""The escalation policy: steps validated with plain sentences."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from crisiscast.message import CrisisMessage
from tests.cli.conftest import EXAMPLES
from tests.escalation.conftest import POLL, STEPS, polled_message


def _problem(**kw: object) -> str:
    with pytest.raises(ValidationError) as caught:
        polled_message(**kw)
    return str(caught.value.errors()[0]["msg"])


def test_a_polled_message_takes_steps_in_time_order() -> None:
    message = polled_message()
    assert [(s.after_min, s.action.value) for s in message.escalation] == [
        (10, "resend_sms"), (20, "call"), (30, "notify_supervisor")
    ]  # fmt: skip


def test_escalation_without_a_poll_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        CrisisMessage.model_validate({"status": "Actual", "headline": "Fire", "escalation": STEPS})
    assert "escalation needs a poll: an answer is what stops it" in str(caught.value)


def test_steps_out_of_order_are_refused() -> None:
    message = _problem(escalation=[STEPS[1], STEPS[0]])
    assert "must come in time order: the step at 10 min comes after the one at 20 min" in message


def test_a_step_after_the_poll_closes_is_refused() -> None:
    poll = {**POLL.model_dump(), "deadline_min": 25}
    message = _problem(poll=poll)
    assert "the escalation step at 30 min is not before the poll closes (25 min)" in message


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        polled_message(escalation=[{"after_min": 5, "action": "page"}])
    assert "resend_sms" in str(caught.value) and "notify_supervisor" in str(caught.value)


def test_an_all_clear_does_not_escalate() -> None:
    message = _problem(msg_type="Cancel", references=["crisiscast,x,2026-01-01T00:00:00+00:00"])
    assert "a Cancel does not escalate" in message


def test_two_resends_need_three_minutes_between_them() -> None:
    steps = [{"after_min": 10, "action": "resend_sms"}, {"after_min": 11, "action": "resend_sms"}]
    assert "leave at least 3 min between two resends" in _problem(escalation=steps)


def test_a_template_with_escalation_needs_a_poll() -> None:
    import yaml

    from crisiscast.templates import Template
    from tests.server.helpers import TEMPLATES_DIR

    raw = yaml.safe_load((TEMPLATES_DIR / "facility-fire.yaml").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError) as caught:
        Template.model_validate({**raw, "escalation": STEPS})
    assert "escalation needs a poll" in str(caught.value)
    assert Template.model_validate(raw).escalation == ()


def test_a_message_file_with_a_bad_step_is_one_sentence(tmp_path: Path) -> None:
    from crisiscast.errors import UserError
    from crisiscast.loader import load_message

    example = (EXAMPLES / "staff-check-escalation.yaml").read_text(encoding="utf-8")
    assert load_message(EXAMPLES / "staff-check-escalation.yaml").escalation
    path = tmp_path / "message.yaml"
    path.write_text(example.replace("action: call", "action: page"), encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_message(path)
    assert "has 'page' in 'escalation.1.action', which is not allowed; use one of resend_sms, call" in str(
        caught.value
    )
