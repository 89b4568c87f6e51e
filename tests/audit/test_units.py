"""Pure parts of the audit store: canonical text, the view reducers, store URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.audit.events import (
    AuditEvent,
    EventKind,
    canonical_json,
    fold_dispatch_summary,
    next_dispatch_state,
    next_state,
)
from crisiscast.audit.open import open_store
from crisiscast.audit.prepare import canonical_data, canonical_event_text, prepare
from crisiscast.delivery import DeliveryState
from crisiscast.errors import ConfigError

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(1, 10**12),
    kind=st.sampled_from(list(EventKind)),
    dispatch_id=st.text(),
    key=st.none() | st.text(),
    data=st.dictionaries(st.text(max_size=8), _json, max_size=4),
    at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
)
def test_fast_canonical_text_equals_the_contract(  # noqa: PLR0917
    seq: int, kind: EventKind, dispatch_id: str, key: str | None, data: dict[str, Any], at: datetime
) -> None:
    """The writer's string-built canonical text is byte-identical to canonical_json(canonical_fields)."""
    event = AuditEvent(kind, dispatch_id, data, delivery_key=key, at=at)
    p = prepare(event) if kind is not EventKind.DELIVERY_PLANNED or key is None else None
    data_json = p.data_json if p is not None else canonical_json(data)
    at_text = at.astimezone(UTC).isoformat(timespec="microseconds")
    assert canonical_event_text(seq, at_text, kind.value, dispatch_id, key, data_json) == canonical_json(
        event.canonical_fields(seq)
    )


_FLAT = st.dictionaries(
    st.text(max_size=6),
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: the encoder's own text for them
    | st.text()
    | st.sampled_from([DeliveryState.PENDING, EventKind.ATTEMPT_STARTED])  # str subclasses
    | st.lists(st.integers(), max_size=2),
    max_size=18,
)
_NESTED = st.dictionaries(st.text(max_size=6), _FLAT | st.integers() | st.text(), max_size=10)


@settings(max_examples=500, deadline=None)
@given(data=_FLAT | _NESTED)
def test_flat_data_text_equals_canonical_json(data: dict[str, Any]) -> None:
    """The string-built text of a flat dict (and every fallback) is byte-identical to canonical_json."""
    assert canonical_data(data) == canonical_json(data)


def test_canonical_data_falls_back_for_what_it_does_not_build() -> None:
    """Non-str keys, nesting, bool/int subclasses and non-dict mappings go through the encoder."""
    cases: list[Any] = [
        {1: "a", 2: "b"},
        {"a": {"b": 1}},
        {"a": {"b": {"c": 1}}},
        {"payload": {}, "after": None},
        {"a": True, "b": False, "c": None, "d": -0.0, "e": 1e300, "f": "é\n\u2028"},
        {"x": float("nan")},
        {"x": float("-inf")},
        MappingProxyType({"attempt": 1}),
    ]
    for data in cases:
        assert canonical_data(data) == canonical_json(data)


_DELIVERY_KINDS = [
    k
    for k in EventKind
    if k is not EventKind.DELIVERY_PLANNED and not k.startswith(("draft", "dispatch", "approval", "channel"))
]
_DATA = st.fixed_dictionaries(
    {},
    optional={
        "error": st.sampled_from(["transient", "rate_limited", "ambiguous", "permanent", "weird"]),
        "found": st.booleans(),
        "provider_id": st.sampled_from(["P1", "P2"]),
        "code": st.sampled_from(["c1", "c2"]),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_DELIVERY_KINDS), _DATA), min_size=1, max_size=8),
    st.sampled_from(["pending", "in_doubt"]),
)
def test_composed_view_update_equals_the_reducer_step_by_step(
    steps: list[tuple[EventKind, dict[str, Any]]], start: str
) -> None:
    """Folding a batch into one net update gives the state next_state reaches event by event."""
    state = DeliveryState(start)
    net = None
    for kind, data in steps:
        state = next_state(state, kind, data) or state
        update = prepare(AuditEvent(kind, "d", data, delivery_key="k")).update
        assert update is not None
        if net is None:
            net = update
        else:
            net.then(update)
    assert net is not None
    assert (net.from_pending if start == "pending" else net.from_in_doubt) == state.value


def test_dispatch_state_reducer() -> None:
    """draft → planned → finished; a cancel is final; finished ignores a late cancel; drafts never demote."""
    assert next_dispatch_state(None, EventKind.DRAFT_CREATED) == "draft"
    assert next_dispatch_state("draft", EventKind.DISPATCH_PLANNED) == "planned"
    assert next_dispatch_state("planned", EventKind.DRAFT_CREATED) is None
    assert next_dispatch_state("planned", EventKind.DISPATCH_CANCEL_REQUESTED) == "cancelled"
    assert next_dispatch_state("cancelled", EventKind.DISPATCH_FINISHED) is None
    assert next_dispatch_state("finished", EventKind.DISPATCH_CANCEL_REQUESTED) is None
    assert next_dispatch_state("planned", EventKind.APPROVAL_RECORDED) is None
    summary = fold_dispatch_summary({}, EventKind.APPROVAL_RECORDED, {"approver": "a"})
    summary = fold_dispatch_summary(summary, EventKind.APPROVAL_RECORDED, {"approver": "b"})
    assert summary == {"approvals": [{"approver": "a"}, {"approver": "b"}]}


def test_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Supported URLs give a store; anything else is one plain sentence, never echoing a password."""
    monkeypatch.chdir(tmp_path)
    assert type(open_store("sqlite:///var/audit.db")).__name__ == "SqliteStore"
    assert open_store("sqlite:///var/audit.db").path == "var/audit.db"  # type: ignore[attr-defined]
    assert open_store("sqlite:////tmp/x/audit.db").path == "/tmp/x/audit.db"  # type: ignore[attr-defined]
    assert open_store("sqlite:///:memory:").path == ":memory:"  # type: ignore[attr-defined]
    assert type(open_store("postgresql://u@db.example/crisis")).__name__ == "PostgresStore"
    for bad in (
        "mysql://root:hunter2@db/x",
        "audit.db",
        "sqlite://audit.db",
        "sqlite:///",
        "postgresql:///x",
    ):
        with pytest.raises(ConfigError) as info:
            open_store(bad)
        assert "hunter2" not in str(info.value)
        assert str(info.value).endswith(".")


async def test_sqlite_file_store_creates_its_folder(tmp_path: Path) -> None:
    """Opening a SQLite store in a folder that does not exist yet creates the folder."""
    store = open_store(f"sqlite:///{tmp_path}/a/b/audit.db")
    await store.open()
    await store.close()
    assert (tmp_path / "a" / "b" / "audit.db").exists()


async def test_memory_store_works_end_to_end() -> None:
    """sqlite:///:memory: appends, reads and verifies like a file store."""
    from .helpers import plan

    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        events, _ = plan("m-1", 3)
        await store.append(events)
        assert len(await store.deliveries("m-1")) == 3
        assert (await store.verify()).ok
    finally:
        await store.close()


_VARIED_DATA: list[dict[str, Any]] = [
    {},
    {"found": True, "provider_id": "SM1"},
    {"found": False},
    {"error": "permanent", "code": "21610"},
    {"error": "transient"},
    {"error": "ambiguous"},
    {"status": "delivered"},
    {"status": "undelivered", "error_code": "30005"},
    {"duplicate_of_earlier_attempt": True},
]


def test_the_precomputed_view_states_hold_whatever_the_data() -> None:
    """prepare() takes the state after an event from a table built without its data, for every
    kind outside _DATA_DEPENDENT_KINDS; if next_state ever reads data for another kind, this fails."""
    from crisiscast.audit import prepare as prep
    from crisiscast.audit.events import EventKind, next_state

    for kind, (from_pending, from_in_doubt) in prep._STATES_AFTER.items():
        for data in _VARIED_DATA:
            starts = ((DeliveryState.PENDING, from_pending), (DeliveryState.IN_DOUBT, from_in_doubt))
            for start, want in starts:
                after = next_state(start, kind, data)
                assert (start.value if after is None else after.value) == want, (kind, start, data)
    assert set(prep._STATES_AFTER) | prep._DATA_DEPENDENT_KINDS == set(EventKind)
