"""The store contract: the same behaviour from every ``AuditStore`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import Delivery, DeliveryState

from .conftest import Backend
from .helpers import ev, plan


async def test_plan_creates_dispatch_and_pending_deliveries_in_plan_order(store: AuditStore) -> None:
    """One append of the plan makes the dispatch 'planned' with its approvals and every delivery pending."""
    events, deliveries = plan("d-1", 5)
    await store.append(events)

    record = await store.dispatch("d-1")
    assert record is not None
    assert record.state == "planned"
    assert record.message["headline"] == "Fire in wing B"
    assert record.summary["approvals"] == [{"approver": "alice", "method": "cli"}]
    assert record.summary["counts"] == {"sms": 5}
    rows = await store.deliveries("d-1")
    assert [r.delivery for r in rows] == deliveries
    assert {r.state for r in rows} == {DeliveryState.PENDING}
    assert all(r.attempts == 0 and r.provider_id is None for r in rows)


async def test_delivery_view_follows_the_reducer(store: AuditStore) -> None:
    """Attempts count starts, failures record code and reason, success records the provider id."""
    events, (a, b, c) = plan("d-2", 3)
    await store.append(events)
    await store.append([ev(EventKind.ATTEMPT_STARTED, a, attempt=1)])
    await store.append([ev(EventKind.ATTEMPT_STARTED, b, attempt=1)])
    await store.append([ev(EventKind.ATTEMPT_STARTED, c, attempt=1)])
    await store.append(
        [
            ev(EventKind.ATTEMPT_FAILED, a, attempt=1, error="transient", code="http_503", reason="busy"),
            ev(EventKind.ATTEMPT_SUCCEEDED, b, attempt=1, provider_id="SM1", latency_ms=12),
            ev(EventKind.ATTEMPT_FAILED, c, attempt=1, error="permanent", code="21610", reason="opted out"),
        ]
    )
    in_doubt = await store.deliveries("d-2", states=[DeliveryState.IN_DOUBT])
    assert in_doubt == []
    await store.append([ev(EventKind.ATTEMPT_STARTED, a, attempt=2)])
    rows = {r.delivery.key: r for r in await store.deliveries("d-2")}
    assert rows[a.key].state is DeliveryState.IN_DOUBT
    assert (rows[a.key].attempts, rows[a.key].last_code, rows[a.key].last_reason) == (2, "http_503", "busy")
    assert (rows[b.key].state, rows[b.key].provider_id, rows[b.key].attempts) == (
        DeliveryState.DELIVERED,
        "SM1",
        1,
    )
    assert (rows[c.key].state, rows[c.key].last_code) == (DeliveryState.FAILED, "21610")


async def test_terminal_deliveries_are_never_reopened_but_receipts_are_recorded(store: AuditStore) -> None:
    """A late failure after delivery keeps it delivered; a status callback still records its id."""
    events, (a,) = plan("d-3", 1)
    await store.append(events)
    await store.append(
        [ev(EventKind.ATTEMPT_STARTED, a, attempt=1), ev(EventKind.ATTEMPT_SUCCEEDED, a, provider_id="X1")]
    )
    await store.append(
        [
            ev(EventKind.ATTEMPT_FAILED, a, error="ambiguous", code="timeout", reason="late"),
            ev(EventKind.RECEIPT_STATUS, a, provider_id="X1", status="undelivered", error_code="30003"),
        ]
    )
    (row,) = await store.deliveries("d-3")
    assert row.state is DeliveryState.DELIVERED
    assert (row.provider_id, row.last_code, row.last_reason) == ("X1", "30003", "undelivered")


async def test_events_in_one_batch_apply_in_order(store: AuditStore) -> None:
    """Plan, start, transient failure, restart and success in ONE append: delivered after 2 attempts."""
    events, (a,) = plan("d-4", 1)
    await store.append(
        [
            *events,
            ev(EventKind.ATTEMPT_STARTED, a, attempt=1),
            ev(EventKind.ATTEMPT_FAILED, a, error="rate_limited", code="429", reason="slow down"),
            ev(EventKind.ATTEMPT_STARTED, a, attempt=2),
            ev(EventKind.ATTEMPT_SUCCEEDED, a, provider_id="P2"),
            ev(EventKind.DELIVERY_CANCELLED, a, reason="too late"),
        ]
    )
    (row,) = await store.deliveries("d-4")
    assert (row.state, row.attempts, row.provider_id, row.last_code) == (
        DeliveryState.DELIVERED,
        2,
        "P2",
        "429",
    )


async def test_in_doubt_reconciled_found_is_delivered_and_not_found_is_pending(store: AuditStore) -> None:
    """Reconciliation decides an in-doubt delivery: found → delivered with the id, not found → pending."""
    events, (a, b) = plan("d-5", 2)
    await store.append([*events, ev(EventKind.ATTEMPT_STARTED, a), ev(EventKind.ATTEMPT_STARTED, b)])
    await store.append(
        [
            ev(EventKind.DELIVERY_RECONCILED, a, found=True, provider_id="SM9"),
            ev(EventKind.DELIVERY_RECONCILED, b, found=False),
        ]
    )
    rows = await store.deliveries("d-5")
    assert [(r.state, r.provider_id) for r in rows] == [
        (DeliveryState.DELIVERED, "SM9"),
        (DeliveryState.PENDING, None),
    ]


async def test_dispatch_states_and_unfinished_listing(store: AuditStore) -> None:
    """Dispatches list newest first; 'unfinished' keeps those with pending or in-doubt deliveries."""
    done, (a,) = plan("old", 1)
    await store.append(done)
    await store.append([ev(EventKind.ATTEMPT_SUCCEEDED, a, provider_id="1")])
    await store.append([AuditEvent(EventKind.DISPATCH_FINISHED, "old", {"ok": True})])
    open_events, _ = plan("new", 2)
    await store.append(open_events)
    await store.append([AuditEvent(EventKind.DRAFT_CREATED, "draft", {"message": {"headline": "h"}})])

    assert [d.dispatch_id for d in await store.dispatches()] == ["draft", "new", "old"]
    assert [d.dispatch_id for d in await store.dispatches(limit=1)] == ["draft"]
    assert [d.dispatch_id for d in await store.dispatches(unfinished=True)] == ["new"]
    old = await store.dispatch("old")
    assert old is not None and (old.state, old.summary["report"]) == ("finished", {"ok": True})
    draft = await store.dispatch("draft")
    assert draft is not None and draft.state == "draft"
    await store.append(
        [AuditEvent(EventKind.DISPATCH_CANCEL_REQUESTED, "new", {"who": "ic", "reason": "false alarm"})]
    )
    await store.append([AuditEvent(EventKind.DISPATCH_FINISHED, "new", {"ok": False})])
    new = await store.dispatch("new")
    assert new is not None and (new.state, new.summary["cancel"]["who"]) == ("cancelled", "ic")
    assert await store.dispatch("missing") is None


async def test_events_iterate_in_chain_order_per_dispatch(store: AuditStore) -> None:
    """``events()`` returns every event in seq order, and one dispatch's events when asked."""
    one, _ = plan("e-1", 2)
    two, _ = plan("e-2", 1)
    await store.append(one)
    await store.append(two)
    every = [e async for e in store.events()]
    assert [e.seq for e in every] == list(range(1, len(one) + len(two) + 1))
    assert [e.event for e in every] == [*one, *two]
    mine = [e async for e in store.events("e-2")]
    assert [e.event for e in mine] == two
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(every))


async def test_group_commit_batches_concurrent_appends(store: AuditStore) -> None:
    """300 concurrent appends all land, in one gap-free chain, in far fewer commits than calls."""
    events, deliveries = plan("g-1", 300)
    await store.append(events)
    commits_before = store.commits  # type: ignore[attr-defined]
    await asyncio.gather(*(store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1)]) for d in deliveries))
    rows = await store.deliveries("g-1", states=[DeliveryState.IN_DOUBT])
    assert len(rows) == 300
    assert store.commits - commits_before < 100  # type: ignore[attr-defined]
    result = await store.verify()
    assert result.ok and result.events_checked == len(events) + 300


async def test_append_after_close_is_a_store_error(backend: Backend) -> None:
    """A closed store refuses appends with a StoreError instead of hanging."""
    import pytest

    from crisiscast.errors import StoreError

    s = backend.make_store()
    await s.open()
    await s.close()
    await s.close()
    with pytest.raises(StoreError):
        await s.append(plan("c-1", 1)[0])


async def test_bind_key_binds_once_under_concurrency(store: AuditStore) -> None:
    """20 concurrent binds of one key: exactly one creates, all see the same dispatch id."""
    results = await asyncio.gather(*(store.bind_key("webhook-1", f"d-{i}") for i in range(20)))
    assert sum(created for _, created in results) == 1
    assert len({dispatch_id for dispatch_id, _ in results}) == 1
    assert await store.bind_key("webhook-2", "x") == ("x", True)
    assert await store.bind_key("webhook-2", "x") == ("x", False)


async def test_bind_key_is_atomic_across_two_store_instances(backend: Backend) -> None:
    """Two stores on one database (as two processes) racing on one key agree on one dispatch."""
    one, two = backend.make_store(), backend.make_store()
    await one.open()
    await two.open()
    try:
        results = await asyncio.gather(
            *(s.bind_key(f"k-{n}", f"{name}-{n}") for n in range(10) for name, s in (("a", one), ("b", two)))
        )
    finally:
        await one.close()
        await two.close()
    for n in range(10):
        pair = results[2 * n : 2 * n + 2]
        assert sum(created for _, created in pair) == 1
        assert pair[0][0] == pair[1][0]


async def test_bind_key_reclaims_an_orphaned_binding_only_once_it_is_old_enough(store: AuditStore) -> None:
    """A binding with no dispatch row is taken over (same dispatch id, created) only when older
    than ``reclaim_after_s``; without ``reclaim_after_s``, or too fresh, it stays a duplicate."""
    assert await store.bind_key("webhook-orphan", "d-orphan") == ("d-orphan", True)
    assert await store.bind_key("webhook-orphan", "d-retry-1") == ("d-orphan", False)
    assert await store.bind_key("webhook-orphan", "d-retry-2", reclaim_after_s=3600.0) == ("d-orphan", False)
    assert await store.bind_key("webhook-orphan", "d-retry-3", reclaim_after_s=0.0) == ("d-orphan", True)
    # the take-over refreshed the binding: it is fresh again for the next retry
    assert await store.bind_key("webhook-orphan", "d-retry-4", reclaim_after_s=3600.0) == ("d-orphan", False)


async def test_bind_key_never_reclaims_a_binding_whose_dispatch_was_recorded(store: AuditStore) -> None:
    """Once a draft or a plan exists under the bound dispatch id, no retry takes the key over."""
    await store.bind_key("webhook-drafted", "d-drafted")
    await store.append([AuditEvent(EventKind.DRAFT_CREATED, "d-drafted", {"message": {}, "author": "ops"})])
    assert await store.bind_key("webhook-drafted", "x", reclaim_after_s=0.0) == ("d-drafted", False)
    await store.bind_key("webhook-planned", "d-planned")
    await store.append(plan("d-planned", 1)[0])
    assert await store.bind_key("webhook-planned", "x", reclaim_after_s=0.0) == ("d-planned", False)


async def test_only_one_of_concurrent_reclaims_wins(backend: Backend) -> None:
    """20 retries (from two store instances, as two processes) racing to take over one old
    orphaned binding: exactly one wins, and all see the original dispatch id."""
    one, two = backend.make_store(), backend.make_store()
    await one.open()
    await two.open()
    try:
        await one.bind_key("webhook-race", "d-dead")
        # as a binding made long ago by a process that then died
        await backend.tamper(
            "UPDATE idempotency_keys SET created_at = '2000-01-01T00:00:00.000000+00:00' "
            "WHERE key = 'webhook-race'"
            if backend.name == "sqlite"
            else "UPDATE idempotency_keys SET created_at = now() - interval '1 hour' "
            "WHERE key = 'webhook-race'"
        )
        results = await asyncio.gather(
            *(
                s.bind_key("webhook-race", f"d-retry-{i}", reclaim_after_s=60.0)
                for i in range(10)
                for s in (one, two)
            )
        )
    finally:
        await one.close()
        await two.close()
    assert sum(created for _, created in results) == 1
    assert {dispatch_id for dispatch_id, _ in results} == {"d-dead"}


async def test_two_store_instances_keep_one_chain(backend: Backend) -> None:
    """Appends from two store instances on one database interleave into one verifiable chain."""
    one, two = backend.make_store(), backend.make_store()
    await one.open()
    await two.open()
    try:
        ev_a, da = plan("a", 40)
        ev_b, db = plan("b", 40)
        await asyncio.gather(one.append(ev_a), two.append(ev_b))
        await asyncio.gather(
            *(one.append([ev(EventKind.ATTEMPT_STARTED, d)]) for d in da),
            *(two.append([ev(EventKind.ATTEMPT_STARTED, d)]) for d in db),
        )
        result = await one.verify()
    finally:
        await one.close()
        await two.close()
    assert result.ok, result
    assert result.events_checked == 2 * (3 + 40 + 40)


async def test_delivered_to_reads_one_numbers_delivered_rows_newest_dispatch_first(backend: Backend) -> None:
    """Only delivered rows to that number, newest dispatch first, within the newest dispatches;
    a cache row whose target was edited (its key no longer matches) is left out."""
    store = backend.make_store()
    await store.open()
    try:
        for dispatch_id in ("old", "mid", "new"):
            events, deliveries = plan(dispatch_id, 3)
            await store.append(events)
            first, second, _ = deliveries  # the third stays pending
            await store.append(
                [
                    ev(EventKind.ATTEMPT_SUCCEEDED, first, provider_id=f"SM-{dispatch_id}"),
                    ev(EventKind.ATTEMPT_FAILED, second, error="permanent", code="21610", reason="opted out"),
                ]
            )
        number, failed, pending = first.target, second.target, deliveries[2].target
        found = await store.delivered_to(number)
        assert [(r.delivery.dispatch_id, r.state) for r in found] == [
            ("new", DeliveryState.DELIVERED),
            ("mid", DeliveryState.DELIVERED),
            ("old", DeliveryState.DELIVERED),
        ]
        assert found[0].delivery == first and found[0].provider_id == "SM-new"
        assert await store.delivered_to(failed) == [] and await store.delivered_to(pending) == []
        assert [r.delivery.dispatch_id for r in await store.delivered_to(number, newest_dispatches=2)] == [
            "new",
            "mid",
        ]
        assert first.key == "new:sms:+15550000000:0"
        await backend.tamper(
            "UPDATE deliveries SET target = '+15559999999' WHERE key = 'new:sms:+15550000000:0'"
        )
        assert [r.delivery.dispatch_id for r in await store.delivered_to(number)] == ["mid", "old"]
        assert await store.delivered_to("+15559999999") == []
    finally:
        await store.close()


async def test_delivery_by_provider_id_finds_the_one_delivery_a_provider_accepted(backend: Backend) -> None:
    """The delivery whose recorded provider id it is, in whichever dispatch; None for an id not
    recorded (yet), for another channel, and for a row whose key no longer matches its columns."""
    store = backend.make_store()
    await store.open()
    try:
        accepted: dict[str, Delivery] = {}
        for dispatch_id in ("old", "new"):
            events, deliveries = plan(dispatch_id, 3)
            await store.append(events)
            accepted[dispatch_id] = deliveries[1]
            sid = f"SM-{dispatch_id}"
            await store.append([ev(EventKind.ATTEMPT_SUCCEEDED, deliveries[1], provider_id=sid)])
        for dispatch_id, delivery in accepted.items():
            found = await store.delivery_by_provider_id("sms", f"SM-{dispatch_id}")
            assert found is not None and found.delivery == delivery
            assert found.provider_id == f"SM-{dispatch_id}"
        assert await store.delivery_by_provider_id("sms", "SM-never") is None
        assert await store.delivery_by_provider_id("voice", "SM-new") is None
        assert accepted["new"].key == "new:sms:+15550000001:0"
        await backend.tamper(
            "UPDATE deliveries SET target = '+15559999999' WHERE key = 'new:sms:+15550000001:0'"
        )
        assert await store.delivery_by_provider_id("sms", "SM-new") is None
    finally:
        await store.close()


async def test_delivery_tally_counts_the_status_buckets_and_the_reasons(store: AuditStore) -> None:
    """``delivery_tally`` gives, per channel, the same buckets the status document counts from
    the records (planned; delivered, failed, cancelled, skipped, in progress = pending or in
    doubt), tells a retried pending delivery from one not sent yet, and (when asked) counts the
    failed and retrying deliveries by reason; for this dispatch only; an unknown one has none."""
    from crisiscast.server.status_view import channel_counts

    sms_events, sms = plan("d-counts", 7)
    mail_events, mail = plan("d-counts", 2, channel="email")
    other_events, _ = plan("d-other", 3)
    await store.append([*sms_events, *mail_events[3:], *other_events])
    started = (sms[0], sms[1], sms[5], mail[0])
    await store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1) for d in started])
    await store.append(
        [
            ev(EventKind.ATTEMPT_SUCCEEDED, sms[0], attempt=1, provider_id="SM0"),
            ev(EventKind.ATTEMPT_SUCCEEDED, mail[0], attempt=1, provider_id="m0"),
            ev(EventKind.ATTEMPT_FAILED, sms[5], attempt=1, error="transient", code="http_503", reason=""),
            ev(EventKind.DELIVERY_FAILED, sms[2], code="21610", reason="opted out"),
            ev(EventKind.DELIVERY_CANCELLED, sms[3], reason="cancelled"),
            ev(EventKind.DELIVERY_SKIPPED, sms[4], reason="no exercise target"),
        ]
    )
    expected = {
        "sms": {"planned": 7, "delivered": 1, "failed": 1, "in_progress": 3, "cancelled": 1, "skipped": 1},
        "email": {"planned": 2, "delivered": 1, "failed": 0, "in_progress": 1, "cancelled": 0, "skipped": 0},
    }
    tally = await store.delivery_tally("d-counts", reasons=True)
    assert tally.counts() == expected
    assert channel_counts(await store.deliveries("d-counts")) == expected
    assert sorted(tally.states) == sorted(
        [
            ("sms", "delivered", True, 1),
            ("sms", "in_doubt", True, 1),
            ("sms", "pending", True, 1),  # sent once, failed transiently: being retried
            ("sms", "pending", False, 1),
            ("sms", "failed", False, 1),
            ("sms", "cancelled", False, 1),
            ("sms", "skipped", False, 1),
            ("email", "delivered", True, 1),
            ("email", "pending", False, 1),
        ]
    )
    assert sorted(tally.reasons) == [("sms", "http_503", 1), ("sms", "opted out", 1)]
    assert (await store.delivery_tally("d-counts")).reasons == ()
    assert (await store.delivery_tally("d-other")).counts() == {
        "sms": {"planned": 3, "delivered": 0, "failed": 0, "in_progress": 3, "cancelled": 0, "skipped": 0}
    }
    assert (await store.delivery_tally("d-never")).counts() == {}
