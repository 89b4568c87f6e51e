"""Least privilege on PostgreSQL: an application role that cannot rewrite the audit.

The role that owns the tables (the one ``db migrate`` runs as) may ``ALTER TABLE events
DISABLE TRIGGER USER`` and then delete or truncate events; crisiscast itself needs none of
that. ``create_app_role`` makes (or tightens) a login role with only what crisiscast does:

- ``events``: ``SELECT, INSERT`` — never ``UPDATE``, ``DELETE`` or ``TRUNCATE``;
- the chain heads and the views (``chain_head``, ``dispatch_chain``, ``deliveries``,
  ``dispatches``, ``idempotency_keys``): ``SELECT, INSERT, UPDATE``;
- ``store_meta``, ``schema_migrations``: ``SELECT``.

It owns nothing, is no superuser and cannot create roles or databases, so it can neither
alter a table nor disable a trigger. ``privilege_warning`` says when the store's own role
could (it owns the events table, or is a superuser): ``audit verify`` prints it.
"""

from __future__ import annotations

import re

import asyncpg

__all__ = ["APP_GRANTS", "create_app_role", "privilege_warning"]

APP_GRANTS = {
    "events": "SELECT, INSERT",
    "chain_head": "SELECT, INSERT, UPDATE",
    "dispatch_chain": "SELECT, INSERT, UPDATE",
    "deliveries": "SELECT, INSERT, UPDATE",
    "dispatches": "SELECT, INSERT, UPDATE",
    "idempotency_keys": "SELECT, INSERT, UPDATE",
    "escalation_claims": "SELECT, INSERT, UPDATE",
    "store_meta": "SELECT",
    "schema_migrations": "SELECT",
}
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def create_app_role(conn: asyncpg.Connection, role: str, password: str | None) -> None:
    """Create ``role`` (or tighten an existing one) with ``APP_GRANTS`` on the current schema.

    ``ValueError`` for a name that is not a plain lowercase identifier.
    """
    if not _ROLE.match(role):
        raise ValueError(
            f"The role name {role[:64]!r} must be lowercase letters, digits and underscores, "
            "starting with a letter."
        )
    async with conn.transaction():
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        if password:
            await _run(conn, f"{verb} ROLE %I {attributes} PASSWORD %L", role, password)
        else:
            await _run(conn, f"{verb} ROLE %I {attributes}", role)
        schema = await conn.fetchval("SELECT current_schema()")
        await _run(conn, "GRANT USAGE ON SCHEMA %I TO %I", schema, role)
        for table, privileges in APP_GRANTS.items():
            await _run(conn, "REVOKE ALL ON %I.%I FROM %I", schema, table, role)
            await _run(conn, f"GRANT {privileges} ON %I.%I TO %I", schema, table, role)


async def _run(conn: asyncpg.Connection, template: str, *values: str) -> None:
    """Execute DDL built by the server's ``format()``, so names and literals are quoted by it."""
    marks = ", ".join(f"${n}::text" for n in range(1, len(values) + 1))
    await conn.execute(await conn.fetchval(f"SELECT format('{template}', {marks})", *values))


async def privilege_warning(conn: asyncpg.Connection) -> str | None:
    """A sentence when the connected role could disable the append-only triggers, else None."""
    row = await conn.fetchrow(
        "SELECT current_user AS who, r.rolsuper AS super, "
        "pg_has_role(current_user, c.relowner, 'USAGE') AS owns "
        "FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'events'::regclass"
    )
    if row is None or not (row["super"] or row["owns"]):
        return None
    why = "is a superuser" if row["super"] else "owns the events table"
    return (
        f"the store's database role {row['who']} {why}, so it could disable the append-only triggers "
        "and rewrite the events; run crisiscast as the role crisiscast db migrate --app-role creates."
    )
