"""Stop escalating a dispatch: by hand (``crisiscast escalate stop``), on the all-clear, on a cancel.

By hand, ONE audit write records ``escalation_stopped`` and cancels the escalation deliveries
still pending (planned by a step, not yet claimed by a worker); in-doubt ones are left for the
resume to reconcile. The all-clear's stop is written with the all-clear's plan
(``crisiscast.escalation.schedule.escalation_plan_events``); a cancel of the dispatch stops
its escalation by itself (``read_escalation`` reads the cancel). Either way the timer then
cancels the step deliveries still pending that no worker holds (``unsent_step_cancels``).
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

__all__ = ["StopResult", "stop_escalation", "unsent_step_cancels"]


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
    stop = AuditEvent(EventKind.ESCALATION_STOPPED, dispatch_id, {"who": who, "reason": reason}, at=now)
    cancels = await unsent_step_cancels(store, dispatch_id, reason=reason, now=now)
    await store.append([stop, *cancels])
    return StopResult(dispatch_id, None, len(state.pending()), len(cancels))


async def unsent_step_cancels(
    store: AuditStore, dispatch_id: str, *, reason: str, now: datetime
) -> list[AuditEvent]:
    """``delivery_cancelled`` for the step deliveries still pending that no worker holds.

    One a worker has claimed (a live lease) may be on the wire: it is left to finish.
    """
    return [
        AuditEvent(
            EventKind.DELIVERY_CANCELLED,
            dispatch_id,
            {"reason": reason, "by": "escalation_stopped"},
            delivery_key=r.delivery.key,
            at=now,
        )
        for r in await store.deliveries(dispatch_id, states=[DeliveryState.PENDING])
        if r.delivery.part >= PART_BASE and (r.lease_until is None or r.lease_until < datetime.now(UTC))
    ]
