"""Signed checkpoints against someone with write access to the database (SQLite and PostgreSQL).

Each tamper here is one the hash chain alone does not catch (``store.verify()`` says OK, which
each test shows first); the signed checkpoints kept outside the database do.
"""

# The tamper SQL is built from numbers and hashes this test made (the attacker's statements).
# ruff: noqa: S608

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crisiscast.audit.base import AuditStore
from crisiscast.audit.checkpoint import read_checkpoints
from crisiscast.audit.checkpointer import CheckpointingStore
from crisiscast.audit.events import GENESIS_HASH, AuditEvent, EventKind
from crisiscast.audit.evidence import EvidenceReport, verify_evidence
from crisiscast.audit.prepare import EventRow, chain, prepare
from crisiscast.audit.records import stored_event
from crisiscast.audit.signing import generate_key, load_private_key
from crisiscast.audit.witness import FileWitness
from crisiscast.errors import ConfigError

from .conftest import Backend
from .helpers import ev, plan


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return generate_key(tmp_path / "keys" / "audit.key")


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    return tmp_path / "elsewhere" / "checkpoints.jsonl"


@pytest.fixture
async def signing_store(
    backend: Backend, key: Ed25519PrivateKey, checkpoint_file: Path
) -> AsyncIterator[CheckpointingStore]:
    store = CheckpointingStore(
        backend.make_store(), key, [FileWitness(checkpoint_file)], checkpoint_every_s=3600
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _run_dispatch(store: AuditStore, dispatch_id: str = "c-1", targets: int = 3) -> int:
    """Plan, attempt and deliver every target, then finish: the events one dispatch records."""
    events, deliveries = plan(dispatch_id, targets)
    await store.append(events)
    for d in deliveries:
        await store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1)])
        await store.append([ev(EventKind.ATTEMPT_SUCCEEDED, d, attempt=1, provider_id=f"SM{d.target}")])
    await store.append([AuditEvent(EventKind.DISPATCH_FINISHED, dispatch_id, {"channels": {}})])
    return len(events) + 2 * len(deliveries) + 1


async def _evidence(store: AuditStore, checkpoint_file: Path, key: Ed25519PrivateKey) -> EvidenceReport:
    return await verify_evidence(store, read_checkpoints(checkpoint_file), key.public_key())


async def _all_rows(store: AuditStore) -> list[EventRow]:
    return [row async for rows in store.event_rows() for row in rows]


def _sql(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _rewrite(rows: list[EventRow]) -> list[str]:
    """SQL that replaces the whole log with ``rows`` (rechained) and moves every head to match:
    what an attacker who knows the hashing (it is public) but has no key can do."""
    rechained = chain([prepare(stored_event(r).event) for r in rows], 0, GENESIS_HASH, {})
    statements = ["DELETE FROM events", "DELETE FROM dispatch_chain"]
    for row in rechained.rows:
        statements.append(f"INSERT INTO events VALUES ({', '.join(_sql(v) for v in row)})")
    for dispatch_id, (seq, digest) in rechained.dispatch_heads.items():
        statements.append(
            "INSERT INTO dispatch_chain (dispatch_id, seq, hash) "
            f"VALUES ({_sql(dispatch_id)}, {seq}, {_sql(digest)})"
        )
    statements.append(
        f"UPDATE chain_head SET seq = {rechained.head_seq}, hash = {_sql(rechained.head_hash)} WHERE id = 1"
    )
    return statements


async def test_a_dispatch_is_checkpointed_at_its_plan_and_its_end_not_per_event(
    signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey
) -> None:
    """One dispatch of 50 deliveries (150+ appends) signs two checkpoints — after the plan and at
    the end — each naming the dispatch's chain head; the untouched store verifies against them."""
    total = await _run_dispatch(signing_store, targets=50)
    assert signing_store.signed == 2
    checkpoints = read_checkpoints(checkpoint_file)
    assert [cp.seq for cp in checkpoints] == [3 + 50, total]
    assert all(cp.dispatch is not None and cp.dispatch[0] == "c-1" for cp in checkpoints)
    report = await _evidence(signing_store, checkpoint_file, key)
    assert report.ok, report.problems
    assert (report.events, report.checkpoints) == (total, 2)
    # the only warning allowed: PostgreSQL's test role is a superuser
    assert [w for w in report.warnings if "database role" not in w] == []


async def test_events_after_the_last_checkpoint_are_signed_when_the_store_closes(
    backend: Backend, key: Ed25519PrivateKey, checkpoint_file: Path
) -> None:
    """Events appended after the last plan/end checkpoint are covered by the checkpoint
    written on close (nothing is left unsigned by a clean shutdown)."""
    store = CheckpointingStore(
        backend.make_store(), key, [FileWitness(checkpoint_file)], checkpoint_every_s=3600
    )
    await store.open()
    total = await _run_dispatch(store)
    _, deliveries = plan("c-1", 3)
    await store.append([ev(EventKind.RECEIPT_STATUS, deliveries[0], provider_id="x", status="delivered")])
    await store.close()
    assert read_checkpoints(checkpoint_file)[-1].seq == total + 1


async def test_truncating_and_rolling_back_every_head_is_broken(
    backend: Backend, signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey
) -> None:
    """Deleting the last events and moving the chain and dispatch heads back verifies as a chain,
    but not against the checkpoint that signed more events."""
    total = await _run_dispatch(signing_store)
    keep = total - 3
    await backend.tamper(
        f"DELETE FROM events WHERE seq > {keep}",
        f"UPDATE chain_head SET seq = {keep}, hash = (SELECT hash FROM events WHERE seq = {keep})",
        f"UPDATE dispatch_chain SET seq = {keep}, "
        f"hash = (SELECT dispatch_hash FROM events WHERE seq = {keep})",
    )
    assert (await signing_store.verify()).ok  # the chain alone cannot tell
    report = await _evidence(signing_store, checkpoint_file, key)
    assert not report.ok
    assert f"signed {total} events but the store holds {keep}" in report.problems[0]
    assert f"events {keep + 1} to {total} are missing" in report.problems[0]


async def test_emptying_the_log_is_broken_never_ok(
    backend: Backend, signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey
) -> None:
    """An empty log (every event deleted, heads reset) with a checkpoint naming events is BROKEN."""
    total = await _run_dispatch(signing_store)
    await backend.tamper(
        "DELETE FROM events",
        "DELETE FROM dispatch_chain",
        f"UPDATE chain_head SET seq = 0, hash = '{GENESIS_HASH}'",
    )
    assert (await signing_store.verify()).ok
    report = await _evidence(signing_store, checkpoint_file, key)
    assert not report.ok and report.events == 0
    assert f"events 1 to {total} are missing" in report.problems[0]


async def test_editing_an_event_and_recomputing_every_hash_is_broken(
    backend: Backend, signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey
) -> None:
    """Changing the approver and recomputing both chains and all heads verifies as a chain, but the
    event the checkpoint signed no longer carries the signed hash."""
    await _run_dispatch(signing_store)
    rows = await _all_rows(signing_store)
    forged = [(*r[:5], r[5].replace("alice", "mallory"), *r[6:]) for r in rows]
    assert forged != rows
    await backend.tamper(*_rewrite(forged))
    assert (await signing_store.verify()).ok
    report = await _evidence(signing_store, checkpoint_file, key)
    assert not report.ok
    assert "rewritten and its hashes recomputed" in report.problems[0]


async def test_postgres_trigger_disabled_and_table_truncated_is_broken(
    backend: Backend, signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey
) -> None:
    """PostgreSQL: ALTER TABLE events DISABLE TRIGGER USER, TRUNCATE events, heads reset → BROKEN."""
    if backend.name != "postgres":
        pytest.skip("TRUNCATE and trigger disabling are PostgreSQL's")
    total = await _run_dispatch(signing_store)
    await backend.tamper(  # tamper() runs ALTER TABLE events DISABLE TRIGGER USER first
        "TRUNCATE events",
        "TRUNCATE dispatch_chain",
        f"UPDATE chain_head SET seq = 0, hash = '{GENESIS_HASH}'",
    )
    assert (await signing_store.verify()).ok
    report = await _evidence(signing_store, checkpoint_file, key)
    assert not report.ok and f"events 1 to {total} are missing" in report.problems[0]


def _empty_files(db: Path) -> None:
    """``: > audit.db`` (and its WAL files)."""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            path.write_bytes(b"")


def _edit_first_checkpoint(path: Path) -> None:
    lines = path.read_text().splitlines()
    item = json.loads(lines[0])
    item["checkpoint"]["seq"] = 1
    path.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n")


async def test_a_wiped_store_is_told_apart_from_the_one_the_checkpoints_name(
    backend: Backend, key: Ed25519PrivateKey, checkpoint_file: Path
) -> None:
    """The database wiped (SQLite: the file emptied; PostgreSQL: the tables dropped) and created
    afresh by the next start: it has another store id, and the checkpoints name the old one."""
    store = CheckpointingStore(
        backend.make_store(), key, [FileWitness(checkpoint_file)], checkpoint_every_s=3600
    )
    await store.open()
    total = await _run_dispatch(store)
    await store.close()
    if backend.sqlite_path is not None:
        _empty_files(backend.sqlite_path)
    else:
        import asyncpg

        conn = await asyncpg.connect(backend.pg_admin_url)
        try:
            await conn.execute(f"DROP SCHEMA {backend.schema} CASCADE")
            await conn.execute(f"CREATE SCHEMA {backend.schema}")
        finally:
            await conn.close()
    fresh = backend.make_store()
    await fresh.open()
    try:
        assert (await fresh.verify()).ok
        report = await _evidence(fresh, checkpoint_file, key)
    finally:
        await fresh.close()
    assert not report.ok
    assert f"with {total} events, but this store is" in report.problems[0]
    assert "wiped or replaced" in report.problems[0]


async def test_an_edited_or_foreign_checkpoint_is_broken(
    signing_store: CheckpointingStore, checkpoint_file: Path, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """A checkpoint whose fields were edited fails its signature; one signed by another key is named."""
    await _run_dispatch(signing_store)
    _edit_first_checkpoint(checkpoint_file)
    report = await _evidence(signing_store, checkpoint_file, key)
    assert not report.ok and "does not match its signature" in report.problems[0]

    other = generate_key(tmp_path / "other.key")
    report = await _evidence(signing_store, checkpoint_file, other)
    assert not report.ok and "signed by another key" in report.problems[0]


async def test_a_store_without_checkpoints_verifies_with_a_warning(store: AuditStore) -> None:
    """No key, no checkpoints: the chain is checked and the report says nothing vouches for it."""
    await _run_dispatch(store)
    report = await verify_evidence(store, [], None)
    assert report.ok
    assert any("no signed checkpoint" in w for w in report.warnings)


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    """keygen: mode 0600, never overwrites, and a key file others can read is refused."""
    path = tmp_path / "audit.key"
    generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Path(f"{path}.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(ConfigError, match="already exists"):
        generate_key(path)
    assert load_private_key(str(path)) is not None
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_private_key(str(path))
