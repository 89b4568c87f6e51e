"""``audit verify`` compares every cached delivery column with what the events say (SQLite and
PostgreSQL): an edit of any of them is named with its delivery, an unchanged cache is clean."""

from __future__ import annotations

from crisiscast.audit.events import EventKind
from crisiscast.audit.evidence import verify_evidence
from tests.audit.conftest import Backend
from tests.audit.helpers import ev, plan


async def test_each_edited_delivery_column_is_named_and_an_intact_cache_is_clean(backend: Backend) -> None:
    store = backend.make_store()
    await store.open()
    try:
        events, (sent, refused, in_doubt, pending) = plan("d1", 4)
        await store.append(events)
        await store.append(
            [
                ev(EventKind.ATTEMPT_STARTED, sent, attempt=1),
                ev(EventKind.ATTEMPT_SUCCEEDED, sent, attempt=1, provider_id="SM-1"),
                ev(EventKind.ATTEMPT_FAILED, refused, error="permanent", code="21610", reason="opted out"),
                ev(EventKind.ATTEMPT_STARTED, in_doubt, attempt=1),
            ]
        )
        clean = await verify_evidence(store, [], None, views=True)
        assert clean.ok and clean.problems == []

        keys = [f"d1:sms:+1555000000{i}:0" for i in range(4)]
        assert [d.key for d in (sent, refused, in_doubt, pending)] == keys
        # the same payload written with other spacing is the same payload: not a difference
        await backend.tamper(
            """UPDATE deliveries SET payload = '{ "to" : "+15550000003" }' """
            "WHERE key = 'd1:sms:+15550000003:0'"
        )
        assert (await verify_evidence(store, [], None, views=True)).problems == []

        await backend.tamper(
            "UPDATE deliveries SET provider_id = 'SM-other' WHERE key = 'd1:sms:+15550000000:0'",
            "UPDATE deliveries SET last_reason = 'delivered fine' WHERE key = 'd1:sms:+15550000001:0'",
            "UPDATE deliveries SET state = 'delivered' WHERE key = 'd1:sms:+15550000002:0'",
            """UPDATE deliveries SET payload = '{"to": "+19999999999"}' """
            "WHERE key = 'd1:sms:+15550000003:0'",
        )
        problems = (await verify_evidence(store, [], None, views=True)).problems
        edited = ["provider id", "last reason", "state", "payload"]
        shown = ["SM-other", "delivered fine", "delivered", "{'to': '+19999999999'}"]
        assert problems == [
            f"delivery {key}: the {column} in the cache ({value}) is not what the events say."
            for key, column, value in zip(keys, edited, shown, strict=True)
        ]
    finally:
        await store.close()


async def test_views_are_checked_dispatch_by_dispatch_and_a_dropped_dispatch_row_is_named(
    backend: Backend,
) -> None:
    """Three dispatches checked one at a time: an edit in the second is named with its delivery,
    and a dispatch whose cache row was deleted is named as missing from the table."""
    store = backend.make_store()
    await store.open()
    try:
        for dispatch_id in ("a", "b", "c"):
            events, _ = plan(dispatch_id, 3)
            await store.append(events)
        assert (await verify_evidence(store, [], None, views=True)).problems == []
        await backend.tamper(
            "UPDATE deliveries SET body = 'Evacuate now' WHERE key = 'b:sms:+15550000001:0'",
            "DELETE FROM dispatches WHERE dispatch_id = 'c'",
        )
        problems = (await verify_evidence(store, [], None, views=True)).problems
        assert problems == [
            "delivery b:sms:+15550000001:0: the body in the cache (Evacuate now) is not what the events say.",
            "dispatch c is in the events but missing from the dispatches table.",
        ]
    finally:
        await store.close()
