"""From audit events to rows: canonical text, both hash chains, and the changes to the views.

Shared by every store so that SQLite and PostgreSQL hash and reduce events identically.
The work is split so that as little as possible happens inside the single writer:

- ``prepare(event)`` runs in the caller (``append``): it serialises ``data`` once to its
  canonical JSON and works out what the event does to the views;
- ``chain(...)`` runs in the writer, which alone knows the sequence numbers: it builds the
  canonical text of each event by string concatenation (byte-identical to
  ``canonical_json(event.canonical_fields(seq))``, which a test pins) and hashes it into the
  global chain and into the chain of its dispatch;
- ``ViewChanges`` folds a batch into one insert per planned delivery, one net update per
  touched delivery and the dispatch-level events, so a batch costs a few ``executemany``.

Every delivery-level event is applied with ``next_state``: the net update of a delivery
carries the state it moves to from ``pending`` and from ``in_doubt`` (terminal states never
change), so SQL needs no reducer of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from crisiscast.audit.events import (
    GENESIS_HASH,
    AuditEvent,
    EventKind,
    canonical_json,
    fold_dispatch_summary,
    next_dispatch_state,
    next_state,
)
from crisiscast.delivery import DeliveryState
from crisiscast.jsontypes import JsonObject

__all__ = [
    "ChainedBatch",
    "DispatchRow",
    "NetUpdate",
    "PreparedEvent",
    "ViewChanges",
    "canonical_data",
    "canonical_event_text",
    "chain",
    "fold_dispatches",
    "prepare",
    "prepared_from",
]

_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) does for a str
_encode_canonical = canonical_json
_sha256 = hashlib.sha256
# plain ``str`` (not the enum): a view update binds them as SQL parameters, and sqlite3 looks
# for an adapter for every parameter that is not exactly a str, int, float or bytes
_PENDING = DeliveryState.PENDING.value
_IN_DOUBT = DeliveryState.IN_DOUBT.value
_INFINITY = float("inf")
_FLAT_MAX_KEYS = 8  # larger dicts go to the encoder (its set-up is then a small share)

OP_NONE = 0
OP_PLAN = 1
OP_UPDATE = 2
OP_DISPATCH = 3

_DISPATCH_KINDS = frozenset(
    {
        EventKind.DRAFT_CREATED,
        EventKind.APPROVAL_RECORDED,
        EventKind.APPROVAL_REFUSED,
        EventKind.DISPATCH_PLANNED,
        EventKind.DISPATCH_PLAN_COMPLETED,
        EventKind.DISPATCH_FINISHED,
        EventKind.DISPATCH_CANCEL_REQUESTED,
        EventKind.CHANNEL_SKIPPED,
    }
)


def canonical_event_text(  # noqa: PLR0917  (hot path: positional is cheaper)
    seq: int, at: str, kind: str, dispatch_id: str, delivery_key: str | None, data_json: str
) -> str:
    """The canonical JSON of one event from its stored columns (``data_json`` already canonical).

    Every string column is JSON-escaped, so a tampered column can never shift text into a
    neighbouring field and still produce the original bytes.
    """
    key = "null" if delivery_key is None else _encode_str(delivery_key)
    return (
        f'{{"at":{_encode_str(at)},"data":{data_json},"delivery_key":{key},'
        f'"dispatch_id":{_encode_str(dispatch_id)},"kind":{_encode_str(kind)},"seq":{seq}}}'
    )


@dataclass(slots=True)
class NetUpdate:
    """What a run of events does to one delivery row (composable, applied as one UPDATE)."""

    from_pending: str
    from_in_doubt: str
    attempts_inc: int = 0
    provider_id: str | None = None
    set_code: bool = False
    code: str | None = None
    set_reason: bool = False
    reason: str | None = None
    updated_at: str = ""

    def values(self) -> tuple[str, str, int, str | None, bool, str | None, bool, str | None, str]:
        """The fields in the order both stores' UPDATE statements bind them (key apart)."""
        return (
            self.from_pending,
            self.from_in_doubt,
            self.attempts_inc,
            self.provider_id,
            self.set_code,
            self.code,
            self.set_reason,
            self.reason,
            self.updated_at,
        )

    def copy(self) -> NetUpdate:
        return NetUpdate(*self.values())

    def then(self, later: NetUpdate) -> None:
        """Compose ``later`` after this update, in place."""
        self.from_pending = _step(self.from_pending, later)
        self.from_in_doubt = _step(self.from_in_doubt, later)
        self.attempts_inc += later.attempts_inc
        if later.provider_id is not None:
            self.provider_id = later.provider_id
        if later.set_code:
            self.set_code, self.code = True, later.code
        if later.set_reason:
            self.set_reason, self.reason = True, later.reason
        self.updated_at = later.updated_at


def _step(state: str, later: NetUpdate) -> str:
    if state == _PENDING:
        return later.from_pending
    if state == _IN_DOUBT:
        return later.from_in_doubt
    return state  # terminal states are final


@dataclass(slots=True)
class PreparedEvent:
    """An event made ready for the writer (everything that does not need its ``seq``)."""

    event: AuditEvent
    at: str
    kind: str
    data_json: str
    op: int
    update: NetUpdate | None = None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _state_after(state: str, kind: EventKind, data: Mapping[str, Any]) -> str:
    """The state (plain text) a delivery in ``state`` is in after ``kind`` (``next_state``)."""
    after = next_state(DeliveryState(state), kind, data)
    return state if after is None else after.value


_DATA_DEPENDENT_KINDS = frozenset({EventKind.ATTEMPT_FAILED, EventKind.DELIVERY_RECONCILED})
_STATES_AFTER: dict[EventKind, tuple[str, str]] = {
    kind: (_state_after(_PENDING, kind, {}), _state_after(_IN_DOUBT, kind, {}))
    for kind in EventKind
    if kind not in _DATA_DEPENDENT_KINDS
}
"""``(from pending, from in doubt)`` of the kinds whose effect does not depend on their data
(``next_state`` reads ``data`` only for ``attempt_failed`` and ``delivery_reconciled``)."""


def canonical_data(data: Mapping[str, Any]) -> str:
    """``canonical_json(data)``, byte for byte (a test pins it).

    The data of an attempt's events is a small flat dict (``{"attempt": 1}``, the outcome of a
    send): plain ``str`` keys and ``str``, ``int``, finite ``float``, ``bool`` or ``None`` values.
    Its text is built directly, without the encoder's per-call set-up (about half the cost for
    a dict that small); anything else (nesting, lists, subclasses such as enums, NaN, a larger
    dict) goes to the encoder.
    """
    if type(data) is not dict or len(data) > _FLAT_MAX_KEYS:
        return _encode_canonical(data)
    for key in data:
        if type(key) is not str:
            return _encode_canonical(data)
    parts: list[str] = []
    for key in sorted(data):
        value = data[key]
        kind = type(value)
        if kind is str:
            text = _encode_str(value)
        elif kind is int:
            text = int.__repr__(value)
        elif value is None:
            text = "null"
        elif value is True:
            text = "true"
        elif value is False:
            text = "false"
        elif kind is float and -_INFINITY < value < _INFINITY:
            text = float.__repr__(value)
        else:
            return _encode_canonical(data)
        parts.append(f"{_encode_str(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def prepare(event: AuditEvent) -> PreparedEvent:
    """Serialise ``event`` once and work out its effect on the views (no I/O, no seq)."""
    when = event.at
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    # isoformat() is the same text when there are microseconds, and cheaper than with timespec
    at = when.isoformat() if when.microsecond else when.isoformat(timespec="microseconds")
    return prepared_from(event, at, canonical_data(event.data))


def prepared_from(event: AuditEvent, at: str, data_json: str) -> PreparedEvent:
    """``prepare`` for an event whose canonical time and data text are known (a stored row:
    the views are rebuilt from the events without serialising them again)."""
    kind = event.kind
    data = event.data
    if kind in _DISPATCH_KINDS:
        return PreparedEvent(event, at, kind.value, data_json, OP_DISPATCH)
    if event.delivery_key is None:
        return PreparedEvent(event, at, kind.value, data_json, OP_NONE)
    if kind is EventKind.DELIVERY_PLANNED:
        for name in ("channel", "target", "part", "body"):
            if name not in data:
                raise ValueError(f"a delivery_planned event needs '{name}' in its data")
        return PreparedEvent(event, at, kind.value, data_json, OP_PLAN)
    states = _STATES_AFTER.get(kind)
    if states is None:  # the new state depends on the data
        states = (_state_after(_PENDING, kind, data), _state_after(_IN_DOUBT, kind, data))
    update = NetUpdate(from_pending=states[0], from_in_doubt=states[1], updated_at=at)
    match kind:
        case EventKind.ATTEMPT_STARTED:
            update.attempts_inc = 1
        case EventKind.ATTEMPT_SUCCEEDED:
            update.provider_id = _text(data.get("provider_id"))
        case EventKind.ATTEMPT_FAILED | EventKind.DELIVERY_FAILED:
            update.set_code, update.code = True, _text(data.get("code"))
            update.set_reason, update.reason = True, _text(data.get("reason"))
        case EventKind.DELIVERY_CANCELLED | EventKind.DELIVERY_SKIPPED:
            update.set_reason, update.reason = True, _text(data.get("reason"))
        case EventKind.DELIVERY_RECONCILED:
            update.provider_id = _text(data.get("provider_id")) if data.get("found") else None
        case EventKind.RECEIPT_STATUS:
            update.provider_id = _text(data.get("provider_id"))
            if data.get("error_code") is not None:
                update.set_code, update.code = True, _text(data.get("error_code"))
                update.set_reason, update.reason = True, _text(data.get("status"))
    return PreparedEvent(event, at, kind.value, data_json, OP_UPDATE, update)


EventRow = tuple[int, str, str, str, str | None, str, str, str, str, str]
"""``(seq, at, kind, dispatch_id, delivery_key, data, prev_hash, hash, dispatch_prev_hash,
dispatch_hash)`` — the columns of the ``events`` table, in this order everywhere."""


@dataclass(slots=True)
class ChainedBatch:
    """A batch with its sequence numbers and hashes: the rows to insert and the new heads."""

    rows: list[EventRow]
    head_seq: int
    head_hash: str
    dispatch_heads: dict[str, tuple[int, str]]  # only the dispatches this batch touched


def chain(
    prepared: Sequence[PreparedEvent], head_seq: int, head_hash: str, dispatch_heads: Mapping[str, str]
) -> ChainedBatch:
    """Number and hash ``prepared`` after the chain head ``(head_seq, head_hash)``.

    ``dispatch_heads`` maps dispatch id → hash of its last event (missing: a new dispatch,
    whose chain starts at the genesis hash).
    """
    rows: list[EventRow] = []
    heads: dict[str, tuple[int, str]] = {}
    seq, prev = head_seq, head_hash
    for p in prepared:
        seq += 1
        ev = p.event
        dispatch_id = ev.dispatch_id
        text = canonical_event_text(seq, p.at, p.kind, dispatch_id, ev.delivery_key, p.data_json)
        digest = _sha256((prev + text).encode()).hexdigest()
        last = heads.get(dispatch_id)
        dprev = last[1] if last is not None else dispatch_heads.get(dispatch_id, GENESIS_HASH)
        ddigest = _sha256((dprev + text).encode()).hexdigest()
        rows.append(
            (seq, p.at, p.kind, dispatch_id, ev.delivery_key, p.data_json, prev, digest, dprev, ddigest)
        )
        heads[dispatch_id] = (seq, ddigest)
        prev = digest
    return ChainedBatch(rows, seq, prev, heads)


DeliveryInsert = tuple[str, str, int, str, str, int, str, str, str, str | None, str, str]
"""``(key, dispatch_id, plan_order, channel, target, part, body, language, payload, after,
state, updated_at)``."""


@dataclass(slots=True)
class DispatchRow:
    """One row of the ``dispatches`` view."""

    dispatch_id: str
    created_at: str
    created_seq: int
    state: str
    message: JsonObject
    summary: JsonObject


class ViewChanges:
    """The net effect of a chained batch on the ``deliveries`` and ``dispatches`` views.

    Limitation, by design: the updates of a delivery are applied after the inserts of the
    batch, so an attempt recorded *before* its own ``delivery_planned`` within one batch would
    apply to the new row (the dispatcher always plans first).
    """

    __slots__ = ("dispatch_events", "inserts", "updates")

    def __init__(self, prepared: Sequence[PreparedEvent], rows: Sequence[EventRow]) -> None:
        self.inserts: list[DeliveryInsert] = []
        self.updates: dict[str, NetUpdate] = {}
        self.dispatch_events: list[tuple[int, PreparedEvent]] = []
        planned: set[str] = set()
        composed: set[str] = set()  # keys whose update is our own copy (safe to change in place)
        updates = self.updates
        for p, row in zip(prepared, rows, strict=True):
            op = p.op
            if op == OP_UPDATE:
                key = row[4]
                assert key is not None and p.update is not None
                current = updates.get(key)
                if current is None:
                    updates[key] = p.update  # shared with the prepared event until composed
                else:
                    if key not in composed:
                        current = updates[key] = current.copy()
                        composed.add(key)
                    current.then(p.update)
            elif op == OP_PLAN:
                key = row[4]
                assert key is not None
                if key in planned:
                    continue
                planned.add(key)
                d = p.event.data
                payload = canonical_json(d.get("payload") or {})
                after = d.get("after")
                self.inserts.append(
                    (
                        key,
                        row[3],
                        row[0],
                        str(d["channel"]),
                        str(d["target"]),
                        int(d["part"]),
                        str(d["body"]),
                        str(d.get("language", "en")),
                        payload,
                        None if after is None else str(after),
                        _PENDING,
                        p.at,
                    )
                )
            elif op == OP_DISPATCH:
                self.dispatch_events.append((row[0], p))

    def touched_dispatches(self) -> set[str]:
        return {p.event.dispatch_id for _, p in self.dispatch_events}


def fold_dispatches(
    current: Mapping[str, DispatchRow], events: Iterable[tuple[int, PreparedEvent]]
) -> list[DispatchRow]:
    """Apply dispatch-level events to the current rows; returns the rows that changed.

    A dispatch row is created by its first dispatch-level event (normally ``draft_created``
    or ``dispatch_planned``); its message comes from the first event that carries one.
    """
    rows = dict(current)
    changed: dict[str, DispatchRow] = {}
    for seq, p in events:
        ev = p.event
        row = rows.get(ev.dispatch_id)
        if row is None:
            row = DispatchRow(ev.dispatch_id, p.at, seq, "", {}, {})
            rows[ev.dispatch_id] = row
        state = next_dispatch_state(row.state or None, ev.kind)
        if state is not None:
            row.state = state
        message = ev.data.get("message")
        if isinstance(message, Mapping) and (not row.message or ev.kind is EventKind.DISPATCH_PLANNED):
            row.message = json.loads(canonical_json(message))
        row.summary = fold_dispatch_summary(row.summary, ev.kind, json.loads(p.data_json))
        changed[ev.dispatch_id] = row
    for row in changed.values():
        if not row.state:
            row.state = "draft"
    return list(changed.values())
