"""Store failure modes: one plain sentence (StoreError), and recovery where it is safe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


class _CommitReplyDropper:
    """A TCP proxy to PostgreSQL that, once armed, forwards the next ``COMMIT`` to the server,
    lets the server commit and answer, and then cuts the client's connection instead of passing
    the answer on: the client cannot know whether its transaction committed."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.armed = False
        self.dropped = asyncio.Event()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.port)
        committing = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self.armed and b"COMMIT" in data:
                    self.armed = False
                    committing.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if committing.is_set():  # the server's answer to COMMIT: swallow it and hang up
                    client_w.transport.abort()
                    self.dropped.set()
                    return
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server_w.close()
        client_w.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_commit_with_unknown_outcome_is_never_recorded_twice(backend: Backend) -> None:
    """When the connection breaks after COMMIT was sent, the batch may have been saved: no
    caller of that batch is retried (which would record its events a second time); each is told
    the events may not have been saved, and the log holds every event at most once."""
    parts = urlsplit(backend.url)
    proxy = _CommitReplyDropper(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}"))
    store = open_store(url + "&sslmode=disable")
    await store.open()
    try:
        await store.append(plan("u-0", 1)[0])
        proxy.armed = True
        a, b = plan("u-a", 2)[0], plan("u-b", 2)[0]
        outcomes = await asyncio.gather(store.append(a), store.append(b), return_exceptions=True)
        assert proxy.dropped.is_set()
        recorded = [e.event.dispatch_id async for e in store.events()]
        for dispatch_id, events, outcome in (("u-a", a, outcomes[0]), ("u-b", b, outcomes[1])):
            count = recorded.count(dispatch_id)
            assert count in (0, len(events)), f"{dispatch_id}: {count} of {len(events)} events"
            if outcome is None:
                continue
            assert isinstance(outcome, StoreError) and "may not have been saved" in str(outcome)
        assert (await store.verify()).ok
    finally:
        await store.close()
        await proxy.close()
