"""Tamper evidence: ``verify()`` finds edited, deleted, reordered and cut-off events in every store."""

from __future__ import annotations

import random

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.prepare import EventRow
from crisiscast.audit.verify import ChainVerifier

from .conftest import Backend
from .helpers import ev, plan


async def _fill(store: AuditStore) -> int:
    """Two interleaved dispatches, 20 events in 6 commits."""
    one, da = plan("v-1", 4)
    two, db = plan("v-2", 3)
    await store.append(one)
    await store.append(two)
    await store.append([ev(EventKind.ATTEMPT_STARTED, d) for d in da])
    await store.append([ev(EventKind.ATTEMPT_STARTED, d) for d in db])
    return len(one) + len(two) + len(da) + len(db)


async def test_untouched_log_verifies(store: AuditStore) -> None:
    """A log written only through the store verifies, counting every event."""
    total = await _fill(store)
    result = await store.verify()
    assert (result.ok, result.events_checked, result.first_bad_seq) == (True, total, None)


async def test_empty_log_verifies(store: AuditStore) -> None:
    """A new store has an empty, valid chain."""
    result = await store.verify()
    assert result.ok and result.events_checked == 0


async def test_events_cannot_be_changed_through_the_database_normally(
    backend: Backend, store: AuditStore
) -> None:
    """The events table refuses UPDATE and DELETE (append-only trigger) for ordinary clients."""
    await _fill(store)
    if backend.sqlite_path is not None:
        import sqlite3

        conn = sqlite3.connect(backend.sqlite_path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET data = '{}' WHERE seq = 3")
        conn.close()
    else:
        import asyncpg

        conn2 = await asyncpg.connect(
            backend.pg_admin_url, server_settings={"search_path": backend.schema or ""}
        )
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn2.execute("DELETE FROM events WHERE seq = 3")
        await conn2.close()


@pytest.mark.parametrize(
    ("statements", "bad_seq", "words"),
    [
        (["UPDATE events SET data = replace(data, 'alice', 'mallory') WHERE seq = 2"], 2, "edited"),
        (["UPDATE events SET at = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 9"], 9, "edited"),
        (["DELETE FROM events WHERE seq = 7"], 7, "missing"),
        (["DELETE FROM events WHERE seq = 1"], 1, "missing"),
        (
            [
                "UPDATE events SET seq = -1 WHERE seq = 5",
                "UPDATE events SET seq = 5 WHERE seq = 6",
                "UPDATE events SET seq = 6 WHERE seq = -1",
            ],
            5,
            "reordered",
        ),
        (["DELETE FROM events WHERE seq >= 19"], 19, "truncated"),
        (["DELETE FROM events WHERE seq = 20"], 20, "truncated"),
    ],
    ids=[
        "edit-data",
        "edit-time",
        "delete-middle",
        "delete-first",
        "reorder",
        "truncate-tail-2",
        "truncate-last",
    ],
)
async def test_tampering_is_detected_at_the_first_broken_event(
    backend: Backend, store: AuditStore, statements: list[str], bad_seq: int, words: str
) -> None:
    """Edits, deletions, swaps and a cut-off tail each fail verify, naming the first broken event."""
    total = await _fill(store)
    assert total == 20
    await backend.tamper(*statements)
    result = await store.verify()
    assert not result.ok
    assert result.first_bad_seq == bad_seq, result
    assert words in result.problem


async def test_rewriting_the_tail_and_the_head_breaks_the_dispatch_chain(
    backend: Backend, store: AuditStore
) -> None:
    """Cutting the last event AND moving the chain head back is still caught by the dispatch head."""
    await _fill(store)
    await backend.tamper(
        "UPDATE chain_head SET seq = 19, hash = (SELECT hash FROM events WHERE seq = 19)",
        "DELETE FROM events WHERE seq = 20",
    )
    result = await store.verify()
    assert not result.ok and result.first_bad_seq == 20, result


def _rows(n_dispatches: int, per_dispatch: int, rng: random.Random) -> list[EventRow]:
    """A valid chain (built through the same chaining code the stores use)."""
    from crisiscast.audit.events import AuditEvent
    from crisiscast.audit.prepare import chain, prepare

    events = [
        AuditEvent(
            EventKind.ATTEMPT_STARTED, f"m-{rng.randrange(n_dispatches)}", {"n": i}, delivery_key=f"k{i}"
        )
        for i in range(n_dispatches * per_dispatch)
    ]
    return chain([prepare(e) for e in events], 0, "0" * 64, {}).rows


def _verdict(rows: list[EventRow], head: tuple[int, str]) -> bool:
    verifier = ChainVerifier()
    for i in range(0, len(rows), 37):  # odd chunk size: links across chunk borders are checked too
        if not verifier.feed(rows[i : i + 37]):
            break
    return verifier.finish(head).ok


def test_a_thousand_random_single_mutations_are_all_detected() -> None:
    """Every one of 1,000 random single mutations (edit any column, delete, swap, truncate) fails verify."""
    rng = random.Random(20240611)
    rows = _rows(5, 40, rng)
    head = (rows[-1][0], rows[-1][7])
    assert _verdict(rows, head)
    kinds = {"edit": 0, "delete": 0, "swap": 0, "truncate": 0}
    for _ in range(1000):
        mutated = list(rows)
        kind = rng.choice(list(kinds))
        kinds[kind] += 1
        i = rng.randrange(len(rows))
        if kind == "edit":
            column = rng.randrange(10)
            row = list(mutated[i])
            value = row[column]
            if column == 0:
                row[0] = value + rng.choice([-2, -1, 1, 2, 1000])  # type: ignore[operator]
            elif value is None:
                row[column] = "k-forged"
            else:
                text = str(value)
                pos = rng.randrange(len(text))
                row[column] = text[:pos] + chr((ord(text[pos]) % 90) + 33) + text[pos + 1 :]
                if row[column] == value:
                    row[column] = text + " "
            mutated[i] = tuple(row)  # type: ignore[assignment]
        elif kind == "delete":
            del mutated[i]
        elif kind == "swap":
            j = rng.choice([k for k in range(len(rows)) if k != i])
            a, b = mutated[i], mutated[j]
            mutated[i] = (a[0], *b[1:])
            mutated[j] = (b[0], *a[1:])
        else:
            del mutated[len(rows) - rng.randrange(1, 6) :]
        assert not _verdict(mutated, head), (kind, i)
    print(f"mutations detected: {kinds}")
