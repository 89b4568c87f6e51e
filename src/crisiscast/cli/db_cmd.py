"""``crisiscast db migrate``: create or upgrade the audit store's schema.

Applies the versioned migrations not applied yet (PostgreSQL: recorded in
``schema_migrations``, under an advisory lock so several workers starting at once are safe;
SQLite: ``PRAGMA user_version``) and prints their names. Run it once before starting the
workers of a deployment; running it again changes nothing.

``--app-role NAME`` (PostgreSQL) also creates a least-privilege login role for crisiscast to
run as (``crisiscast.audit.pg_roles``): it may insert and read events but owns nothing, so it
cannot disable the append-only triggers. Its password, if any, is the
``CRISISCAST_DB_APP_PASSWORD`` secret.

Exit codes: 0 done (also when nothing was left to apply); 2 the store cannot be opened.
"""

from __future__ import annotations

from typing import Annotated

import typer

from crisiscast.cli.common import EXIT_OK, fail, load_config, run_async, stdout_console

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Manage the audit database.")


@app.command("migrate")
def migrate(
    app_role: Annotated[
        str | None,
        typer.Option(
            "--app-role",
            help="PostgreSQL: also create (or tighten) this login role, which may insert and read "
            "events but not alter tables or triggers; its password comes from CRISISCAST_DB_APP_PASSWORD.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create or upgrade the audit store's schema (safe to run again)."""
    settings, _ = load_config()
    if app_role is not None and settings.store.url.lower().startswith("sqlite"):
        fail("--app-role needs a PostgreSQL store; SQLite has no roles (protect its file instead).")

    async def run() -> list[str]:
        from crisiscast.audit.open import open_store, store_from_config

        owner = settings.store.owner_url
        # the tables' owner migrates (and grants); crisiscast itself runs as [store] url's role
        store = open_store(owner) if owner else store_from_config(settings.store)
        await store.open()  # opening applies what is missing (and creates a new database)
        try:
            applied = await store.migrate()  # anything still missing (normally nothing by now)
            if app_role is not None:

                from crisiscast.config import load_secrets

                secret = load_secrets().db_app_password
                try:
                    await store.create_app_role(  # type: ignore[attr-defined]
                        app_role, secret.get_secret_value() if secret else None
                    )
                except ValueError as exc:
                    fail(str(exc))
            return applied
        finally:
            await store.close()

    run_async(run)
    from crisiscast.audit.migrations import migrations

    dialect = "sqlite" if settings.store.url.lower().startswith("sqlite") else "postgres"
    latest = migrations(dialect)[-1]
    stdout_console().print(
        f"The audit store's schema is up to date (version {latest.version}, {latest.name}).", markup=False
    )
    if app_role is not None:
        stdout_console().print(
            f"The role {app_role} may insert and read audit events but not alter tables or triggers; "
            f"run crisiscast as {app_role} (postgresql://{app_role}@host/db).",
            markup=False,
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_OK)
