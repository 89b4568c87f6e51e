"""Store failure modes: one plain sentence (StoreError), and recovery where it is safe."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from crisiscast.audit.open import open_store
from crisiscast.audit.postgres import PostgresStore
from crisiscast.errors import StoreError

from .conftest import Backend
from .helpers import plan


async def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    """Opening a store on a closed port fails with StoreError naming the host, never the password."""
    store = open_store("postgresql://crisis:s3cret-pw@127.0.0.1:1/audit")
    with pytest.raises(StoreError) as info:
        await store.open()
    assert "127.0.0.1:1/audit" in str(info.value)
    assert "s3cret-pw" not in str(info.value)


async def test_sqlite_path_that_is_a_folder_is_a_store_error(tmp_path: Path) -> None:
    """A SQLite URL pointing at a folder fails with StoreError, not a sqlite3 traceback."""
    (tmp_path / "db").mkdir()
    store = open_store(f"sqlite:///{tmp_path}/db")
    with pytest.raises(StoreError, match="Cannot open the audit database"):
        await store.open()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_writer_reconnects_after_losing_its_connection(backend: Backend) -> None:
    """When the server drops the writer's connection, appends fail at most once (plainly), then reconnect."""
    store = backend.make_store()
    await store.open()
    try:
        assert isinstance(store, PostgresStore)
        await store.append(plan("r-1", 1)[0])
        pid = store._wconn.get_server_pid()  # type: ignore[union-attr]
        admin = await asyncpg.connect(backend.pg_admin_url)
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await admin.close()
        try:  # asyncpg may or may not have noticed the loss before the next commit
            await store.append(plan("r-2", 1)[0])
            expected = ["r-3", "r-2", "r-1"]
        except StoreError as exc:
            assert "may not have been saved" in str(exc)
            expected = ["r-3", "r-1"]
        await store.append(plan("r-3", 1)[0])
        assert [d.dispatch_id for d in await store.dispatches()] == expected
        assert (await store.verify()).ok
    finally:
        await store.close()
