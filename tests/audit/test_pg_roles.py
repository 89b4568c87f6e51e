"""PostgreSQL least privilege: the application role records events but cannot rewrite them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from crisiscast.audit.evidence import verify_evidence
from crisiscast.audit.open import open_store
from crisiscast.audit.postgres import PostgresStore

from .helpers import plan


@pytest.fixture
async def schema_url(postgres_url: str) -> AsyncIterator[tuple[str, str]]:
    schema = f"r_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_url, schema
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


def _as(url: str, role: str, schema: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


async def test_the_app_role_appends_and_verifies_but_cannot_disable_triggers(
    schema_url: tuple[str, str],
) -> None:
    """db migrate --app-role: the role writes a dispatch and verifies it, gets no warning, and is
    refused ALTER TABLE … DISABLE TRIGGER, DELETE and TRUNCATE; the owner gets the warning."""
    base, schema = schema_url
    role = f"cc_app_{uuid.uuid4().hex[:8]}"
    owner = open_store(f"{base}{'&' if '?' in base else '?'}search_path={schema}")
    assert isinstance(owner, PostgresStore)
    await owner.open()
    try:
        await owner.create_app_role(role, None)
        warning = await owner.privilege_warning()
        assert warning is not None and "could disable the append-only triggers" in warning
        assert warning in (await verify_evidence(owner, [], None)).warnings  # audit verify prints it
        app = open_store(_as(base, role, schema))
        assert isinstance(app, PostgresStore)
        await app.open()  # migrations already applied: nothing to create
        try:
            await app.append(plan("r-1", 3)[0])
            assert (await app.verify()).ok
            assert await app.privilege_warning() is None
        finally:
            await app.close()
        conn = await asyncpg.connect(_as(base, role, schema))
        try:
            for sql in (
                "ALTER TABLE events DISABLE TRIGGER USER",
                "DELETE FROM events",
                "TRUNCATE events",
                "UPDATE events SET data = '{}'",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(sql)
        finally:
            await conn.close()
    finally:
        await owner.close()
        admin = await asyncpg.connect(base)
        try:
            if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await admin.execute(f"DROP OWNED BY {role}")
                await admin.execute(f"DROP ROLE {role}")
        finally:
            await admin.close()


async def test_a_role_name_that_is_not_an_identifier_is_refused(schema_url: tuple[str, str]) -> None:
    """A role name with quotes or capitals is one sentence, and no role is created."""
    base, schema = schema_url
    store = open_store(f"{base}{'&' if '?' in base else '?'}search_path={schema}")
    assert isinstance(store, PostgresStore)
    await store.open()
    try:
        with pytest.raises(ValueError, match="lowercase letters"):
            await store.create_app_role('x"; DROP TABLE events; --', None)
    finally:
        await store.close()


def test_db_migrate_runs_as_the_owner_and_crisiscast_as_the_app_role(
    schema_url: tuple[str, str], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose set-up: [store] url names the app role (password_secret db_app_password),
    owner_url the owner; `db migrate --app-role` migrates as the owner and creates the role, and
    the store crisiscast opens from the same configuration runs as the role (no warning)."""
    import asyncio
    from pathlib import Path

    from typer.testing import CliRunner

    from crisiscast.audit.open import store_from_config
    from crisiscast.cli import app as cli_app
    from crisiscast.cli.common import options, set_options
    from crisiscast.config import load_settings

    base, schema = schema_url
    role = f"cc_app_{uuid.uuid4().hex[:8]}"
    owner_url = f"{base}{'&' if '?' in base else '?'}search_path={schema}"
    config = Path(str(tmp_path)) / "crisiscast.toml"
    config.write_text(
        f'[store]\nurl = "{_as(base, role, schema)}"\nowner_url = "{owner_url}"\n'
        'password_secret = "db_app_password"\n[channels.mqtt]\nenabled = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRISISCAST_DB_APP_PASSWORD", "app-password-0123456789abcdef0123")
    import logging

    import structlog

    saved, saved_structlog = options(), structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:  # the CLI runs in this process: its options and its logging onto the runner's stream
        result = CliRunner().invoke(cli_app, ["--config", str(config), "db", "migrate", "--app-role", role])
    finally:
        set_options(saved)
        structlog.configure(**saved_structlog)
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exit_code == 0, result.output
    assert f"The role {role} may insert and read audit events" in result.output

    async def as_the_role() -> str | None:
        store = store_from_config(load_settings(config).store)
        assert isinstance(store, PostgresStore)
        await store.open()
        try:
            await store.append(plan("r-2", 2)[0])
            assert (await store.verify()).ok
            return await store.privilege_warning()
        finally:
            await store.close()

    assert asyncio.run(as_the_role()) is None
    asyncio.run(_drop_role(base, role, schema))


async def _drop_role(base: str, role: str, schema: str) -> None:
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await admin.close()
