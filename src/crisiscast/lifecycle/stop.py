"""Stopping a dispatch: the cancel request, then waiting until nothing of it can still be sent.

``stop_dispatch`` records the cancel (``Dispatcher.cancel``: a run in this process stops at
once; a run in another process notices from the store within ``CANCEL_POLL_S``), then
watches the store until every delivery of the dispatch is settled:

- pending deliveries are marked cancelled by the run that stops; when no run is alive to do
  it (the process that sent it is gone), they are marked cancelled here after
  ``orphan_after_s``, so nothing is left to be sent by a later resume;
- in-doubt deliveries (a request on the wire when the cancel came) are waited for up to
  ``settle_timeout_s``, so that the all-clear can reach exactly who the original reached.

The result says how many deliveries were delivered, cancelled and still in doubt.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import CANCEL_POLL_S, Dispatcher

__all__ = ["StopOutcome", "stop_dispatch"]

log = structlog.get_logger(__name__)

OPEN_STATES = (DeliveryState.PENDING, DeliveryState.IN_DOUBT)


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """Where the stopped dispatch's deliveries ended."""

    dispatch_id: str
    delivered: int
    cancelled: int
    failed: int
    in_doubt: int
    marked_here: int  # pending deliveries no running process stopped, cancelled by us


async def stop_dispatch(
    store: AuditStore,
    dispatch_id: str,
    *,
    who: str,
    reason: str,
    settle_timeout_s: float = 15.0,
    orphan_after_s: float = 4 * CANCEL_POLL_S,
    poll_s: float = 0.1,
    request: bool = True,
) -> StopOutcome:
    """Cancel ``dispatch_id`` and wait until its deliveries are settled (see the module docstring).

    ``request`` False: the caller already recorded the cancel (``Dispatcher.cancel``).
    """
    if request:
        await Dispatcher(store).cancel(dispatch_id, who=who, reason=reason)
    started = time.monotonic()
    marked = 0
    while True:
        open_records = await store.deliveries(dispatch_id, states=OPEN_STATES)
        if not open_records:
            break
        elapsed = time.monotonic() - started
        pending = [r for r in open_records if r.state is DeliveryState.PENDING]
        if pending and elapsed >= orphan_after_s:
            events = [
                AuditEvent(
                    EventKind.DELIVERY_CANCELLED,
                    dispatch_id,
                    {"reason": reason, "by": "cancel", "note": "no running dispatch stopped it"},
                    delivery_key=r.delivery.key,
                )
                for r in pending
            ]
            for start in range(0, len(events), 1000):
                await store.append(events[start : start + 1000])
            marked += len(pending)
            log.info("cancel_marked_orphans", dispatch_id=dispatch_id, count=len(pending))
            continue
        if elapsed >= settle_timeout_s:
            break
        await asyncio.sleep(poll_s)
    counts = {state: 0 for state in DeliveryState}
    for record in await store.deliveries(dispatch_id):
        counts[record.state] += 1
    return StopOutcome(
        dispatch_id=dispatch_id,
        delivered=counts[DeliveryState.DELIVERED],
        cancelled=counts[DeliveryState.CANCELLED],
        failed=counts[DeliveryState.FAILED],
        in_doubt=counts[DeliveryState.IN_DOUBT] + counts[DeliveryState.PENDING],
        marked_here=marked,
    )
