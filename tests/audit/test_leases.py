"""Leases: workers claim unfinished deliveries without overlap; expired or released claims move on."""

from __future__ import annotations

import asyncio

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind

from .conftest import Backend
from .helpers import ev, plan


async def test_claims_take_unfinished_deliveries_oldest_first_without_overlap(store: AuditStore) -> None:
    """Two workers split the open deliveries; finished ones are never claimed."""
    events, deliveries = plan("l-1", 10)
    await store.append(events)
    await store.append([ev(EventKind.ATTEMPT_SUCCEEDED, deliveries[0], provider_id="1")])
    first = await store.claim_deliveries("w1", limit=4, lease_s=30)
    second = await store.claim_deliveries("w2", limit=100, lease_s=30)
    assert [r.delivery for r in first] == deliveries[1:5]
    assert [r.delivery for r in second] == deliveries[5:]
    assert {r.lease_owner for r in first} == {"w1"} and first[0].lease_until is not None
    assert await store.claim_deliveries("w3") == []


async def test_claims_can_be_limited_to_one_dispatch(store: AuditStore) -> None:
    """A claim for one dispatch leaves the other dispatch's deliveries alone."""
    a, _ = plan("l-a", 2)
    b, db = plan("l-b", 2)
    await store.append(a)
    await store.append(b)
    claimed = await store.claim_deliveries("w1", "l-b")
    assert [r.delivery for r in claimed] == db


async def test_released_and_expired_leases_can_be_claimed_again(store: AuditStore) -> None:
    """Release hands deliveries back; a lapsed lease is claimable; renew keeps only one's own leases."""
    events, deliveries = plan("l-2", 3)
    await store.append(events)
    held = await store.claim_deliveries("w1", lease_s=60)
    keys = [r.delivery.key for r in held]
    assert await store.renew_leases("w2", keys, 60) == []
    assert sorted(await store.renew_leases("w1", keys, 60)) == sorted(keys)
    await store.release_leases("w2", keys)  # not w2's: no effect
    assert await store.claim_deliveries("w2") == []
    await store.release_leases("w1", keys[:1])
    assert [r.delivery for r in await store.claim_deliveries("w2")] == deliveries[:1]
    await store.renew_leases("w1", keys[1:], -1)  # lease already over
    assert [r.delivery for r in await store.claim_deliveries("w3")] == deliveries[1:]


async def test_concurrent_claims_from_two_store_instances_never_overlap(backend: Backend) -> None:
    """Two store instances (two processes) claiming at once get disjoint sets covering everything."""
    one, two = backend.make_store(), backend.make_store()
    await one.open()
    await two.open()
    try:
        events, deliveries = plan("l-3", 60)
        await one.append(events)
        batches = await asyncio.gather(
            *(
                s.claim_deliveries(f"w{i}-{n}", limit=7, lease_s=30)
                for i in range(6)
                for n, s in enumerate((one, two))
            )
        )
    finally:
        await one.close()
        await two.close()
    keys = [r.delivery.key for batch in batches for r in batch]
    assert len(keys) == len(set(keys))
    assert set(keys) <= {d.key for d in deliveries}
    assert len(keys) == 60
