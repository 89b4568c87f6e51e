"""Stop escalating a dispatch: by hand (``crisiscast escalate stop``), on the all-clear, on a cancel.

By hand, ONE audit write records ``escalation_stopped`` and cancels the escalation deliveries
still pending (planned by a step, not yet on the wire); in-doubt ones are left for the resume
to reconcile. The all-clear's stop is written with the all-clear's plan
(``crisiscast.escalation.schedule.escalation_plan_events``); a cancel of the dispatch stops
its escalation by itself (``read_escalation`` reads the cancel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import DeliveryState
from crisiscast.errors import UserError
from crisiscast.escalation.schedule import read_escalation
from crisiscast.escalation.steps import PART_BASE

__all__ = ["StopResult", "stop_escalation"]


@dataclass(frozen=True, slots=True)
class StopResult:
    dispatch_id: str
    already: str | None  # the earlier stop's reason when it was already stopped
    steps_left: int  # steps that will not run
    cancelled: int  # pending escalation deliveries cancelled


async def stop_escalation(
    store: AuditStore, dispatch_id: str, *, who: str, reason: str, now: datetime | None = None
) -> StopResult:
    """Stop ``dispatch_id``'s escalation (see the module docstring); ``UserError`` when it has none."""
    state = await read_escalation(store, dispatch_id)
    if state is None:
        raise UserError(
            f"The dispatch {dispatch_id[:80]} has no escalation steps; "
            "check the id with crisiscast audit list."
        )
    if state.stopped is not None:
        return StopResult(dispatch_id, state.stopped, 0, 0)
    now = now or datetime.now(UTC)
    pending = [
        r
        for r in await store.deliveries(dispatch_id, states=[DeliveryState.PENDING])
        if r.delivery.part >= PART_BASE
    ]
    events = [AuditEvent(EventKind.ESCALATION_STOPPED, dispatch_id, {"who": who, "reason": reason}, at=now)]
    events.extend(
        AuditEvent(
            EventKind.DELIVERY_CANCELLED,
            dispatch_id,
            {"reason": reason, "by": "escalation_stopped"},
            delivery_key=r.delivery.key,
            at=now,
        )
        for r in pending
    )
    await store.append(events)
    return StopResult(dispatch_id, None, len(state.pending()), len(pending))
