"""Choosing an audit store from its URL.

- ``sqlite:///relative/path.db`` (relative to the working directory), ``sqlite:////abs/path.db``,
  ``sqlite:///:memory:``; optional ``?synchronous=normal`` (see ``crisiscast.audit.sqlite``);
- ``postgresql://user@host:5432/db`` (or ``postgres://``), passed to asyncpg as is, so
  asyncpg's own parameters work (e.g. ``?search_path=crisiscast`` to use another schema).

The store is returned unopened: ``await store.open()`` connects and migrates. A URL that
names no supported store raises ``ConfigError`` with one sentence (never echoing a password).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from crisiscast.audit.base import AuditStore
from crisiscast.config import StoreConfig
from crisiscast.errors import ConfigError

__all__ = ["open_store", "store_from_config"]

_HINT = "use sqlite:///path/to/audit.db, sqlite:///:memory: or postgresql://user@host/db"


def open_store(
    url: str, *, batch_max_events: int = 2000, password: str | None = None, file_group: str | None = None
) -> AuditStore:
    """The store for ``url`` (not yet opened); ``ConfigError`` when the URL is not usable.

    PostgreSQL: when the URL carries no password, ``password`` (default: the
    ``CRISISCAST_DB_PASSWORD`` secret, if set) is used to log in.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"The audit store URL is not a URL; {_HINT}.")
    scheme = scheme.lower()
    if scheme == "sqlite":
        from crisiscast.audit.sqlite import SqliteStore

        if not rest.startswith("/"):
            raise ConfigError(f"The SQLite store URL needs three slashes before the path; {_HINT}.")
        path, _, query = rest[1:].partition("?")
        if not path:
            raise ConfigError(f"The SQLite store URL names no database file; {_HINT}.")
        synchronous = (parse_qs(query).get("synchronous") or ["FULL"])[0].upper()
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ConfigError("The SQLite store's synchronous setting must be full, normal or extra.")
        return SqliteStore(
            path, batch_max_events=batch_max_events, synchronous=synchronous, file_group=file_group
        )
    if scheme in ("postgresql", "postgres"):
        from crisiscast.audit.postgres import PostgresStore

        parts = urlsplit(url)
        if not parts.hostname and "host=" not in url:
            raise ConfigError(f"The PostgreSQL store URL names no host; {_HINT}.")
        if password is None and parts.password is None:
            password = _db_password()
        return PostgresStore(url, batch_max_events=batch_max_events, password=password)
    raise ConfigError(f"The audit store URL scheme '{scheme}' is not supported; {_HINT}.")


def _db_password(name: str = "db_password") -> str | None:
    from crisiscast.config import load_secrets

    secret = load_secrets().get(name)
    return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


def store_from_config(config: StoreConfig) -> AuditStore:
    """The store described by the ``[store]`` section (not yet opened).

    With a signing key (``signing_key_file`` or ``CRISISCAST_AUDIT_SIGNING_KEY``) it signs
    checkpoints to ``checkpoint_file`` and the ``witnesses`` (``crisiscast.audit.checkpointer``);
    without one the audit is unsigned: the chain still catches careless edits, but not a
    database administrator who rewrites it (see docs/guarantees.md).
    """
    password = _db_password(config.password_secret) if config.url.lower().startswith("postgres") else None
    store = open_store(
        config.url, batch_max_events=config.batch_max_events, file_group=config.file_group, password=password
    )
    from crisiscast.audit.signing import load_private_key

    key = load_private_key(config.signing_key_file)
    if key is None:
        return store
    from pathlib import Path

    from crisiscast.audit.checkpointer import CheckpointingStore
    from crisiscast.audit.witness import FileWitness, Witness, witness_from_url

    witnesses: list[Witness] = [FileWitness(Path(config.checkpoint_file))]
    witnesses.extend(witness_from_url(url) for url in config.witnesses)
    return CheckpointingStore(store, key, witnesses, checkpoint_every_s=config.checkpoint_every_s)
