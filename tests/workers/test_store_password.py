"""The PostgreSQL store logs in with CRISISCAST_DB_PASSWORD when its URL carries no password."""

from __future__ import annotations

import pytest

from crisiscast.audit.open import open_store
from crisiscast.audit.postgres import PostgresStore
from crisiscast.errors import StoreError

CANARY = "canary-db-password-7f3a"


def test_password_comes_from_the_secret_when_the_url_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """No password in the URL: the CRISISCAST_DB_PASSWORD secret is used; one in the URL wins."""
    monkeypatch.setenv("CRISISCAST_DB_PASSWORD", CANARY)
    store = open_store("postgresql://crisiscast@db.example:5432/crisiscast")
    assert isinstance(store, PostgresStore)
    assert store._connect_kw == {"password": CANARY}
    in_url = open_store("postgresql://crisiscast:fromurl@db.example:5432/crisiscast")
    assert isinstance(in_url, PostgresStore)
    assert in_url._connect_kw == {}


def test_no_secret_means_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the secret nothing is added (trust or .pgpass authentication still work)."""
    monkeypatch.delenv("CRISISCAST_DB_PASSWORD", raising=False)
    monkeypatch.delenv("CRISISCAST_SECRETS_FILE", raising=False)
    store = open_store("postgresql://crisiscast@db.example/crisiscast")
    assert isinstance(store, PostgresStore)
    assert store._connect_kw == {}


async def test_the_store_opens_with_the_password_and_never_echoes_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real server accepts the login with the password; a failing open names host and
    database in one sentence, never the password."""
    monkeypatch.setenv("CRISISCAST_DB_PASSWORD", CANARY)
    store = open_store(postgres_url)
    await store.open()
    await store.close()
    unreachable = open_store("postgresql://crisiscast@127.0.0.1:1/crisiscast")
    with pytest.raises(StoreError) as err:
        await unreachable.open()
    assert "127.0.0.1:1/crisiscast" in str(err.value)
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.__cause__)
