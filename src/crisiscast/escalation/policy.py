"""The escalation policy: steps of a message (or template) with a poll.

.. code-block:: yaml

    escalation:
      - {after_min: 10, action: resend_sms}
      - {after_min: 20, action: call}
      - {after_min: 30, action: notify_supervisor}

``after_min`` counts from the dispatch's plan. A step acts only for the people who have not
answered by then; an answer is what stops escalation, so a message with steps needs a poll,
and every step must come before the poll closes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_STEPS", "Action", "EscalationStep", "is_notice", "policy_problem"]

MAX_STEPS = 9
RESEND_GAP_MIN = 3  # two resent SMS at least this far apart (beyond the SMS reconcile's clock slack)


class Action(StrEnum):
    """What a step does for each person who has not answered."""

    RESEND_SMS = "resend_sms"  # the same SMS (with how to answer) again
    CALL = "call"  # a voice call reading the message (press 1 answers where voice gathers)
    NOTIFY_SUPERVISOR = "notify_supervisor"  # an SMS to the person's supervisor (or next on call)


class EscalationStep(BaseModel):
    """One step: ``after_min`` minutes after the dispatch, ``action`` for who has not answered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_min: float = Field(gt=0, le=24 * 60)
    action: Action

    @property
    def after_s(self) -> float:
        return self.after_min * 60.0

    def describe(self) -> str:
        """The step in words, for the preview the commander confirms."""
        return f"after {self.after_min:g} min: {_ACTION_WORDS[self.action]}"


_ACTION_WORDS = {
    Action.RESEND_SMS: "the SMS again to whoever has not answered",
    Action.CALL: "a voice call to whoever has not answered",
    Action.NOTIFY_SUPERVISOR: "a text to the supervisor (or the person on call) of whoever has not answered",
}


def policy_problem(
    steps: tuple[EscalationStep, ...], *, has_poll: bool, deadline_min: int | None
) -> str | None:
    """One sentence saying what is wrong with ``steps``, or None when they are fine."""
    if not steps:
        return None
    if not has_poll:
        return (
            "escalation needs a poll: an answer is what stops it; add a poll with numbered answers "
            "or remove the escalation steps"
        )
    if len(steps) > MAX_STEPS:
        return f"escalation has {len(steps)} steps; use at most {MAX_STEPS}"
    for before, after in itertools.pairwise(steps):
        if after.after_min <= before.after_min:
            return (
                f"escalation steps must come in time order: the step at {after.after_min:g} min comes "
                f"after the one at {before.after_min:g} min; list them from the earliest"
            )
    resends = [s.after_min for s in steps if s.action is Action.RESEND_SMS]
    for before_min, after_min in itertools.pairwise(resends):
        if after_min - before_min < RESEND_GAP_MIN:
            return (
                f"the SMS is resent at {before_min:g} and {after_min:g} min; "
                f"leave at least {RESEND_GAP_MIN} min between two resends"
            )
    last = steps[-1]
    if deadline_min is not None and last.after_min >= deadline_min:
        return (
            f"the escalation step at {last.after_min:g} min is not before the poll closes "
            f"({deadline_min} min); make it earlier or give the poll a later deadline_min"
        )
    return None


def is_notice(payload: Mapping[str, Any]) -> bool:
    """True for a delivery payload of a supervisor's notice (not a polled person: the roll-call
    leaves it out)."""
    marker = payload.get("escalation")
    return isinstance(marker, Mapping) and marker.get("action") == Action.NOTIFY_SUPERVISOR.value
