"""``crisiscast db migrate``: create or upgrade the audit store's schema.

Applies the versioned migrations not applied yet (PostgreSQL: recorded in
``schema_migrations``, under an advisory lock so several workers starting at once are safe;
SQLite: ``PRAGMA user_version``) and prints their names. Run it once before starting the
workers of a deployment; running it again changes nothing.

Exit codes: 0 done (also when nothing was left to apply); 2 the store cannot be opened.
"""

from __future__ import annotations

import typer

from crisiscast.cli.common import EXIT_OK, load_config, run_async, stdout_console

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Manage the audit database.")


@app.command("migrate")
def migrate() -> None:
    """Create or upgrade the audit store's schema (safe to run again)."""
    settings, _ = load_config()

    async def run() -> list[str]:
        from crisiscast.audit.open import store_from_config

        store = store_from_config(settings.store)
        await store.open()  # opening applies what is missing (and creates a new database)
        try:
            return await store.migrate()  # anything still missing (normally nothing by now)
        finally:
            await store.close()

    run_async(run)
    from crisiscast.audit.migrations import migrations

    dialect = "sqlite" if settings.store.url.lower().startswith("sqlite") else "postgres"
    latest = migrations(dialect)[-1]
    stdout_console().print(
        f"The audit store's schema is up to date (version {latest.version}, {latest.name}).", markup=False
    )
    raise typer.Exit(EXIT_OK)
