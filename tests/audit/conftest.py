"""Store fixtures: every contract test runs against SQLite (a file in tmp_path) and PostgreSQL.

PostgreSQL tests get a fresh schema each (``CREATE SCHEMA t_<uuid>``, selected through the
URL's ``search_path`` so every connection of the store uses it), dropped afterwards.
``Backend.tamper`` runs raw SQL past the store (append-only triggers disabled), the way an
attacker with database access would.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.open import open_store


@dataclass
class Backend:
    name: str
    url: str
    sqlite_path: Path | None = None
    pg_admin_url: str | None = None
    schema: str | None = None

    def make_store(self, **kwargs: Any) -> AuditStore:
        return open_store(self.url, **kwargs)

    async def tamper(self, *statements: str) -> None:
        """Run ``statements`` directly on the database, bypassing the append-only guard."""
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path)
            try:
                conn.execute("DROP TRIGGER IF EXISTS events_no_update")
                conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
                for sql in statements:
                    conn.execute(sql)
                conn.commit()
            finally:
                conn.close()
            return
        import asyncpg

        conn = await asyncpg.connect(self.pg_admin_url, server_settings={"search_path": self.schema or ""})
        try:
            async with conn.transaction():
                await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        finally:
            await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "nested" / "audit.db"
        yield Backend("sqlite", f"sqlite:///{path}", sqlite_path=path)
        return
    import asyncpg

    base_url: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(base_url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base_url else "?"
        yield Backend(
            "postgres", f"{base_url}{sep}search_path={schema}", pg_admin_url=base_url, schema=schema
        )
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AuditStore]:
    s = backend.make_store()
    await s.open()
    try:
        yield s
    finally:
        await s.close()
