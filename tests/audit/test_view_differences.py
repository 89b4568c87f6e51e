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

        # the same payload written with other spacing is the same payload: not a difference
        await backend.tamper(
            f"UPDATE deliveries SET payload = '{{ \"to\" : \"{pending.target}\" }}' WHERE key = '{pending.key}'"
        )
        assert (await verify_evidence(store, [], None, views=True)).problems == []

        await backend.tamper(
            f"UPDATE deliveries SET provider_id = 'SM-other' WHERE key = '{sent.key}'",
            f"UPDATE deliveries SET last_reason = 'delivered fine' WHERE key = '{refused.key}'",
            f"UPDATE deliveries SET state = 'delivered' WHERE key = '{in_doubt.key}'",
            f"UPDATE deliveries SET payload = '{{\"to\": \"+19999999999\"}}' WHERE key = '{pending.key}'",
        )
        problems = (await verify_evidence(store, [], None, views=True)).problems
        assert problems == [
            f"delivery {sent.key}: the provider id in the cache (SM-other) is not what the events say.",
            f"delivery {refused.key}: the last reason in the cache (delivered fine) is not what the events say.",
            f"delivery {in_doubt.key}: the state in the cache (delivered) is not what the events say.",
            f"delivery {pending.key}: the payload in the cache ({{'to': '+19999999999'}}) is not what "
            "the events say.",
        ]
    finally:
        await store.close()
