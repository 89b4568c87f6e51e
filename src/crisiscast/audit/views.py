"""The views rebuilt from the events alone, and how they differ from the store's caches.

The ``dispatches`` and ``deliveries`` tables are caches kept by the store in the same
transaction as the events; someone with database access can edit them without touching the
chain (``UPDATE deliveries SET target = …``). Whatever decides who gets a follow-up, or what
an auditor is shown, is therefore read here from the events — through the same reducer the
stores use (``prepare``, ``ViewChanges``, ``fold_dispatches``) — and the caches are compared
with this replay by ``audit verify``.

- ``Replay``: feed event rows in seq order; it keeps every dispatch and delivery it saw.
- ``ChainViews``: ``dispatch``/``deliveries``/``dispatches`` like the store's, derived from one
  dispatch's events, whose dispatch chain is checked first (``StoreError`` when it is broken).
- ``view_differences``: what the caches say that the events do not.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from crisiscast.audit.base import AuditStore, DeliveryRecord, DispatchRecord
from crisiscast.audit.events import AuditEvent, EventKind, canonical_json
from crisiscast.audit.paging import iter_deliveries
from crisiscast.audit.prepare import (
    DispatchRow,
    EventRow,
    PreparedEvent,
    ViewChanges,
    fold_dispatches,
    prepared_from,
)
from crisiscast.audit.verify import ChainVerifier
from crisiscast.delivery import Delivery, DeliveryState, delivery_key
from crisiscast.errors import StoreError
from crisiscast.jsontypes import JsonObject

__all__ = ["ChainViews", "Replay", "ViewRow", "view_differences", "view_differences_each"]

_PENDING = DeliveryState.PENDING.value
_IN_DOUBT = DeliveryState.IN_DOUBT.value


@dataclass(slots=True)
class ViewRow:
    """One delivery as the events make it (the columns of the deliveries view)."""

    dispatch_id: str
    plan_order: int
    channel: str
    target: str
    part: int
    body: str
    language: str
    payload: str
    after: str | None
    state: str
    attempts: int
    provider_id: str | None
    last_code: str | None
    last_reason: str | None
    updated_at: str

    def record(self) -> DeliveryRecord:
        return self.record_of(self.delivery(json.loads(self.payload)))

    def delivery(self, payload: Mapping[str, Any]) -> Delivery:
        """The planned delivery, with ``payload`` (this row's, parsed: callers may share one)."""
        return Delivery(
            dispatch_id=self.dispatch_id,
            channel=self.channel,
            target=self.target,
            part=self.part,
            body=self.body,
            language=self.language,
            payload=payload,
            after=self.after,
        )

    def record_of(self, delivery: Delivery) -> DeliveryRecord:
        """This row's state, as the record of ``delivery`` (this row's own)."""
        return DeliveryRecord(
            delivery=delivery,
            state=DeliveryState(self.state),
            attempts=self.attempts,
            provider_id=self.provider_id,
            last_code=self.last_code,
            last_reason=self.last_reason,
            updated_at=datetime.fromisoformat(self.updated_at),
        )


Keep = Callable[[AuditEvent], bool]
"""Which events a replay keeps beside the views (``Replay.kept``)."""

_UNUSED_AT = datetime(1970, 1, 1, tzinfo=UTC)  # the row's own canonical time text is used instead
_KINDS = {k.value: k for k in EventKind}


def _prepared_row(row: EventRow) -> PreparedEvent:
    """A stored row as a prepared event, parsing its data once (no datetime, no re-encoding)."""
    seq, at, kind, dispatch_id, key, data_json = row[:6]
    try:
        event = AuditEvent(_KINDS[kind], dispatch_id, json.loads(data_json), key, _UNUSED_AT)
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreError(
            f"Audit event {seq} cannot be read; run 'crisiscast audit verify' to check the log."
        ) from exc
    return prepared_from(event, at, data_json)


class Replay:
    """The views rebuilt from event rows fed in seq order (one chunk = one batch).

    ``keep``: the events it says yes to are also kept, in seq order (``kept``), for a reader that
    needs a few of them beside the views (the roll-call's replies) without reading the events again.
    """

    def __init__(self, keep: Keep | None = None) -> None:
        self.dispatches: dict[str, DispatchRow] = {}
        self.rows: dict[str, ViewRow] = {}  # delivery key → row, in plan order
        self._shared: dict[str, str] = {}  # one copy of each text many rows repeat (bodies …)
        self._keep = keep
        self.kept: list[AuditEvent] = []

    def feed(self, rows: Sequence[EventRow]) -> None:
        prepared = [_prepared_row(row) for row in rows]
        keep = self._keep
        if keep is not None:
            for event_row, p in zip(rows, prepared, strict=True):
                if keep(p.event):  # kept with its real time (the views use the row's text)
                    self.kept.append(replace(p.event, at=datetime.fromisoformat(event_row[1])))
        changes = ViewChanges(prepared, rows)
        share = self._shared.setdefault
        for key, did, order, channel, target, part, body, lang, payload, after, state, at in changes.inserts:
            if key not in self.rows:
                self.rows[key] = ViewRow(
                    share(did, did),
                    order,
                    share(channel, channel),
                    target,
                    part,
                    share(body, body),
                    share(lang, lang),
                    share(payload, payload),
                    after,
                    state,
                    0,
                    None,
                    None,
                    None,
                    at,
                )
        for key, u in changes.updates.items():
            row = self.rows.get(key)
            if row is None:
                continue
            if row.state == _PENDING:
                row.state = u.from_pending
            elif row.state == _IN_DOUBT:
                row.state = u.from_in_doubt
            row.attempts += u.attempts_inc
            if u.provider_id is not None:
                row.provider_id = u.provider_id
            if u.set_code:
                row.last_code = u.code
            if u.set_reason:
                row.last_reason = u.reason
            row.updated_at = u.updated_at
        for changed in fold_dispatches(self.dispatches, changes.dispatch_events):
            self.dispatches[changed.dispatch_id] = changed

    def dispatch_record(self, dispatch_id: str) -> DispatchRecord | None:
        row = self.dispatches.get(dispatch_id)
        if row is None:
            return None
        return DispatchRecord(
            dispatch_id=row.dispatch_id,
            created_at=datetime.fromisoformat(row.created_at),
            state=row.state,
            message=row.message,
            summary=row.summary,
        )

    def plan_rows(self, dispatch_id: str) -> list[tuple[str, ViewRow]]:
        """``(key, row)`` of one dispatch's deliveries, in plan order."""
        rows = [(k, r) for k, r in self.rows.items() if r.dispatch_id == dispatch_id]
        rows.sort(key=lambda kr: kr[1].plan_order)
        return rows

    def delivery_records(
        self, dispatch_id: str, states: Sequence[DeliveryState] | None = None
    ) -> list[DeliveryRecord]:
        wanted = None if states is None else {str(s) for s in states}
        rows = sorted(
            (r for r in self.rows.values() if r.dispatch_id == dispatch_id), key=lambda r: r.plan_order
        )
        return [r.record() for r in rows if wanted is None or r.state in wanted]


async def replay_dispatch(store: AuditStore, dispatch_id: str, *, keep: Keep | None = None) -> Replay:
    """The views of one dispatch from its own events, after checking its dispatch chain (and the
    events ``keep`` says yes to: ``Replay.kept``)."""
    verifier = ChainVerifier(contiguous=False)
    replay = Replay(keep)
    async for rows in store.event_rows(dispatch_id):
        if not verifier.feed(rows):
            result = verifier.finish(None)
            raise StoreError(
                f"The events of dispatch {dispatch_id} do not verify ({result.problem}); "
                "run crisiscast audit verify before following up on it."
            )
        replay.feed(rows)
    return replay


class ChainViews:
    """Dispatch and delivery records read from the events, never from the caches.

    ``dispatches`` lists candidates from the cache (it is only an index), but every record
    it returns is rebuilt from that dispatch's own events. ``keep``: the events it says yes to
    are kept from the same reading (``kept``).
    """

    def __init__(self, store: AuditStore, *, keep: Keep | None = None) -> None:
        self.store = store
        self._keep = keep
        self._replays: dict[str, Replay] = {}

    async def _replay(self, dispatch_id: str) -> Replay:
        replay = self._replays.get(dispatch_id)
        if replay is None:
            replay = await replay_dispatch(self.store, dispatch_id, keep=self._keep)
            self._replays[dispatch_id] = replay
        return replay

    async def replay(self, dispatch_id: str) -> Replay:
        """The verified replay of one dispatch's events (read once per ``ChainViews``)."""
        return await self._replay(dispatch_id)

    async def kept(self, dispatch_id: str) -> list[AuditEvent]:
        """The dispatch's events ``keep`` said yes to, in seq order (from the verified reading)."""
        return (await self._replay(dispatch_id)).kept

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None:
        return (await self._replay(dispatch_id)).dispatch_record(dispatch_id)

    async def deliveries(
        self, dispatch_id: str, *, states: Sequence[DeliveryState] | None = None
    ) -> list[DeliveryRecord]:
        return (await self._replay(dispatch_id)).delivery_records(dispatch_id, states)

    async def dispatches(self, *, limit: int = 50) -> list[DispatchRecord]:
        out = []
        for cached in await self.store.dispatches(limit=limit):
            record = await self.dispatch(cached.dispatch_id)
            if record is not None:
                out.append(record)
        return out


def _cache_fields(record: DeliveryRecord) -> JsonObject:
    d = record.delivery
    return {
        "dispatch": d.dispatch_id,
        "channel": d.channel,
        "target": d.target,
        "part": d.part,
        "body": d.body,
        "language": d.language,
        "payload": d.payload,
        "after": d.after,
        "state": record.state.value,
        "attempts": record.attempts,
        "provider id": record.provider_id,
        "last code": record.last_code,
        "last reason": record.last_reason,
    }


def _row_fields(row: ViewRow, payloads: dict[str, Any]) -> JsonObject:
    """``_cache_fields`` of ``row.record()``, without building the record."""
    payload = payloads.get(row.payload)
    if payload is None:
        payload = payloads[row.payload] = json.loads(row.payload)
    return {
        "dispatch": row.dispatch_id,
        "channel": row.channel,
        "target": row.target,
        "part": row.part,
        "body": row.body,
        "language": row.language,
        "payload": payload,
        "after": row.after,
        "state": DeliveryState(row.state).value,
        "attempts": row.attempts,
        "provider id": row.provider_id,
        "last code": row.last_code,
        "last reason": row.last_reason,
    }


def _dispatch_fields(record: DispatchRecord) -> JsonObject:
    return {
        "state": record.state,
        "created": record.created_at.isoformat(),
        "message": canonical_json(record.message),
        "summary": canonical_json(record.summary),
    }


async def view_differences(store: AuditStore, replay: Replay, *, limit: int = 20) -> list[str]:
    """Sentences naming what the store's caches say that the events do not (at most ``limit``),
    ``replay`` holding every dispatch of the store."""

    async def whole(dispatch_id: str) -> Replay:
        return replay

    return await _differences(store, whole, set(replay.dispatches), limit=limit)


async def view_differences_each(
    store: AuditStore, dispatch_ids: Iterable[str], *, limit: int = 20
) -> list[str]:
    """``view_differences`` one dispatch at a time: each dispatch's own events are replayed and
    compared, then dropped, so the memory is that of the largest dispatch, not of the store.

    ``dispatch_ids``: every dispatch id the events carry (collected while the chain was checked).
    """

    async def own(dispatch_id: str) -> Replay:
        return await replay_dispatch(store, dispatch_id)

    return await _differences(store, own, set(dispatch_ids), limit=limit)


async def _differences(
    store: AuditStore,
    replay_of: Callable[[str], Awaitable[Replay]],
    in_events: set[str],
    *,
    limit: int,
) -> list[str]:
    problems: list[str] = []
    cached_ids: set[str] = set()
    for cached in await store.dispatches(limit=1_000_000):
        cached_ids.add(cached.dispatch_id)
        try:
            replay = await replay_of(cached.dispatch_id)
        except StoreError as exc:  # its own dispatch chain does not hold
            problems.append(str(exc))
            continue
        rebuilt = replay.dispatch_record(cached.dispatch_id)
        if rebuilt is None:
            problems.append(
                f"dispatch {cached.dispatch_id} is in the dispatches table but not in the events."
            )
        else:
            problems.extend(
                _differ(f"dispatch {cached.dispatch_id}", _dispatch_fields(cached), _dispatch_fields(rebuilt))
            )
        problems.extend(await _delivery_differences(store, replay, cached.dispatch_id))
        if len(problems) >= limit:
            return problems[:limit]
    for dispatch_id in sorted(in_events - cached_ids):
        if (await replay_of(dispatch_id)).dispatch_record(dispatch_id) is None:
            continue  # an id the events carry is a dispatch only if its events make one
        problems.append(f"dispatch {dispatch_id} is in the events but missing from the dispatches table.")
    return problems[:limit]


async def _delivery_differences(store: AuditStore, replay: Replay, dispatch_id: str) -> list[str]:
    """Cached and rebuilt deliveries side by side in plan order (an edited target changes the
    key a record computes, so rows are matched by position, and by key when counts differ).

    The cache is read page by page and each rebuilt record made only for its comparison, so
    a 100,000-delivery dispatch is never held twice over."""
    rebuilt = replay.plan_rows(dispatch_id)
    problems: list[str] = []
    cached_count = 0
    payloads: dict[str, Any] = {}  # one parse per distinct payload text (the rows share them)
    async for record in iter_deliveries(store, dispatch_id):
        if cached_count < len(rebuilt):
            row = rebuilt[cached_count][1]
            cached, mine = _cache_fields(record), _row_fields(row, payloads)
            if cached != mine:
                key = delivery_key(row.dispatch_id, row.channel, row.target, row.part)
                problems.extend(_differ(f"delivery {key}", cached, mine))
        cached_count += 1
    if cached_count != len(rebuilt):
        problems = []
        cached_keys = {r.delivery.key async for r in iter_deliveries(store, dispatch_id)}
        rebuilt_keys = {r.record().delivery.key for _, r in rebuilt}
        problems.extend(
            f"delivery {key} is in the deliveries table but not in the events."
            for key in sorted(cached_keys - rebuilt_keys)
        )
        problems.extend(
            f"delivery {key} is in the events but missing from the deliveries table."
            for key in sorted(rebuilt_keys - cached_keys)
        )
        return problems or [f"dispatch {dispatch_id} has another number of deliveries in the cache."]
    return problems


def _differ(what: str, cached: JsonObject, rebuilt: JsonObject) -> Iterable[str]:
    for name, value in cached.items():
        if rebuilt[name] == value:
            continue
        label, shown = name, value
        if name in ("message", "summary"):
            label, shown = _first_difference(name, str(value), str(rebuilt[name]))
        yield f"{what}: the {label} in the cache ({str(shown)[:80]}) is not what the events say."


def _first_difference(name: str, cached: str, rebuilt: str) -> tuple[str, Any]:
    """``("message's headline", cached value)`` for the first top-level field that differs."""
    try:
        mine, theirs = json.loads(cached), json.loads(rebuilt)
    except ValueError:
        return name, cached
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for field in sorted(mine.keys() | theirs.keys()):
            if mine.get(field) != theirs.get(field):
                return f"{name}'s {field}", mine.get(field)
    return name, cached
