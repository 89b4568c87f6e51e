"""A dispatch's escalation as the audit tells it, and which steps are due.

Nothing is kept in memory: ``read_escalation`` replays the dispatch's own events
(``escalation_scheduled``, ``escalation_step``, ``escalation_stopped`` and a cancel), so a
restarted ``crisiscast serve`` — or another worker — computes the same due steps.

``escalation_plan_events`` is written in the SAME audit write as a dispatch's plan
(``crisiscast.dispatch.plan.plan_events``): the schedule of an alert with escalation steps,
and, for an all-clear, the stop of its original's escalation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.escalation.policy import Action
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["EscalationState", "PlannedStep", "escalation_plan_events", "read_escalation", "step_key"]

STOP_ON_ALL_CLEAR = "stop"  # the all-clear's ``follow_up.escalation`` (crisiscast.lifecycle.followup)


def step_key(dispatch_id: str, step: int) -> str:
    """The store claim of one step (``AuditStore.claim_step``)."""
    return f"escalation:{dispatch_id}:{step}"


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step of the schedule: its number (1-based), minutes, action and due time."""

    step: int
    after_min: float
    action: Action
    due_at: datetime

    def to_json(self) -> JsonObject:
        return {
            "step": self.step,
            "after_min": self.after_min,
            "action": self.action.value,
            "due_at": self.due_at.isoformat(),
        }


@dataclass(slots=True)
class EscalationState:
    """What the audit says: the schedule, the steps done (step → event data) and a stop."""

    dispatch_id: str
    scheduled_at: datetime
    steps: list[PlannedStep]
    done: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    stopped: str | None = None  # why, once stopped
    stopped_at: datetime | None = None

    def due(self, now: datetime) -> list[PlannedStep]:
        """Steps whose time has come and that are not done, in order; none once stopped."""
        if self.stopped is not None:
            return []
        return [s for s in self.steps if s.due_at <= now and s.step not in self.done]

    def pending(self) -> list[PlannedStep]:
        """Steps not done yet (none once stopped)."""
        if self.stopped is not None:
            return []
        return [s for s in self.steps if s.step not in self.done]


def escalation_plan_events(
    dispatch_id: str, message: CrisisMessage, approval: Mapping[str, Any], now: datetime
) -> list[AuditEvent]:
    """The escalation events of a dispatch's plan write (see the module docstring)."""
    events: list[AuditEvent] = []
    if message.escalation and message.poll is not None:
        steps = [
            PlannedStep(n, s.after_min, s.action, now + timedelta(seconds=s.after_s))
            for n, s in enumerate(message.escalation, start=1)
        ]
        data: JsonObject = {"steps": [s.to_json() for s in steps]}
        events.append(AuditEvent(EventKind.ESCALATION_SCHEDULED, dispatch_id, data, at=now))
    follow = approval.get("follow_up")
    if isinstance(follow, Mapping) and follow.get("kind") == "cancel":
        root = follow.get("root")
        if follow.get("escalation") == STOP_ON_ALL_CLEAR and isinstance(root, str):
            reason = f"the all-clear {dispatch_id} was sent"
            data = {"who": "all-clear", "reason": reason, "all_clear": dispatch_id}
            events.append(AuditEvent(EventKind.ESCALATION_STOPPED, root, data, at=now))
    return events


async def read_escalation(store: AuditStore, dispatch_id: str) -> EscalationState | None:
    """The escalation of ``dispatch_id`` from its events; None when it has none."""
    state: EscalationState | None = None
    stopped: tuple[str, datetime] | None = None
    async for stored in store.events(dispatch_id):
        event = stored.event
        if event.kind is EventKind.ESCALATION_SCHEDULED and state is None:
            steps = [
                PlannedStep(
                    int(s["step"]),
                    float(s["after_min"]),
                    Action(str(s["action"])),
                    datetime.fromisoformat(str(s["due_at"])),
                )
                for s in event.data.get("steps", [])
            ]
            state = EscalationState(dispatch_id, event.at, steps)
        elif event.kind is EventKind.ESCALATION_STEP and state is not None:
            state.done.setdefault(int(event.data["step"]), event.data)
        elif event.kind is EventKind.ESCALATION_STOPPED and stopped is None:
            stopped = (str(event.data.get("reason") or "stopped"), event.at)
        elif event.kind is EventKind.DISPATCH_CANCEL_REQUESTED and stopped is None:
            stopped = (
                f"the dispatch was cancelled ({event.data.get('reason') or 'no reason given'})",
                event.at,
            )
    if state is not None and stopped is not None:
        state.stopped, state.stopped_at = stopped
    return state
