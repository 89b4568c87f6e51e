"""The escalation as a document: for ``crisiscast escalate show --json`` and the status API."""

from __future__ import annotations

from datetime import datetime

from crisiscast.escalation.schedule import EscalationState

__all__ = ["describe_state", "escalation_line", "step_entries"]


def describe_state(state: EscalationState, now: datetime, *, with_numbers: bool = True) -> dict[str, object]:
    """The escalation as a JSON document; ``with_numbers`` False leaves out who was not reached
    (a machine's status-only token never sees a staff phone number)."""
    return {
        "dispatch_id": state.dispatch_id,
        "scheduled_at": state.scheduled_at.isoformat(),
        "stopped": state.stopped,
        "steps": step_entries(state, now, with_numbers=with_numbers),
    }


def step_entries(
    state: EscalationState, now: datetime, *, with_numbers: bool = True
) -> list[dict[str, object]]:
    """Each step with its ``status`` (done, due, waiting, stopped) and, once done, its counts."""
    steps: list[dict[str, object]] = []
    for s in state.steps:
        done = state.done.get(s.step)
        if done is not None:
            status = "done"
        elif state.stopped is not None:
            status = "stopped"
        else:
            status = "due" if s.due_at <= now else "waiting"
        entry: dict[str, object] = {**s.to_json(), "status": status}
        if done is not None:
            entry["people"] = len(done.get("people") or [])
            entry["deliveries"] = len(done.get("deliveries") or [])
            not_reached = list(done.get("not_reached") or [])
            entry["not_reached"] = not_reached if with_numbers else len(not_reached)
            told_as = done.get("told_as")
            if told_as and with_numbers:  # whose notice went to their supervisor, or to who was on call
                entry["told_as"] = told_as
        steps.append(entry)
    return steps


def escalation_line(state: EscalationState, now: datetime) -> str:
    """One line for the roll-call: ``Escalation: 1 of 3 steps done; next: call at 14:25 UTC``."""
    total = len(state.steps)
    done = len(state.done)
    if state.stopped is not None:
        return f"Escalation stopped after {done} of {total} steps: {state.stopped}."
    upcoming = [s for s in state.steps if s.step not in state.done]
    if not upcoming:
        return f"Escalation: all {total} steps done."
    following = upcoming[0]
    when = "due now" if following.due_at <= now else f"at {following.due_at:%H:%M} UTC"
    action = following.action.value.replace("_", " ")
    return f"Escalation: {done} of {total} steps done; next: {action} {when}."
