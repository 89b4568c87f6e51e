"""Reading a dispatch's deliveries page by page, so a 100,000-recipient dispatch is never
held in memory at once by a reader that only needs to look at each delivery once.

``iter_deliveries`` asks the store for ``page_size`` deliveries at a time, in plan order
(``AuditStore.deliveries`` with ``offset``/``limit``). Pages are separate reads: a delivery
whose state changes between two pages is seen in whichever state its page read; with
``states`` given, a delivery leaving those states meanwhile may shift a later page (callers
that filter on a changing state read the page again or accept that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from crisiscast.audit.base import AuditStore, DeliveryRecord
from crisiscast.delivery import DeliveryState

__all__ = ["DEFAULT_PAGE_SIZE", "count_states", "iter_deliveries"]

DEFAULT_PAGE_SIZE = 2000


async def iter_deliveries(
    store: AuditStore,
    dispatch_id: str,
    *,
    states: Sequence[DeliveryState] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> AsyncIterator[DeliveryRecord]:
    """Every delivery of ``dispatch_id`` (optionally only in ``states``), in plan order."""
    offset = 0
    size = max(1, page_size)
    while True:
        page = await store.deliveries(dispatch_id, states=states, offset=offset, limit=size)
        for record in page:
            yield record
        if len(page) < size:
            return
        offset += size


async def count_states(
    store: AuditStore, dispatch_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
) -> dict[str, dict[DeliveryState, int]]:
    """Deliveries per channel and state, aggregated page by page (constant memory)."""
    counts: dict[str, dict[DeliveryState, int]] = {}
    async for record in iter_deliveries(store, dispatch_id, page_size=page_size):
        per_state = counts.setdefault(record.delivery.channel, {})
        per_state[record.state] = per_state.get(record.state, 0) + 1
    return counts
