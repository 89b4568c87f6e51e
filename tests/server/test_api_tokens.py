"""CRISISCAST_API_TOKENS: name=token and bare entries, parsed once at start, compared by digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.dispatch import Dispatcher
from crisiscast.errors import ConfigError
from crisiscast.server.app import build_app
from crisiscast.server.auth import ApiToken, parse_api_tokens
from tests.server.helpers import FIRE, make_secrets, make_settings, start_harness, stop_harness

ALICE = "alice-token-0123456789abcdefghijklmn"
MACHINE = "machine-token-0123456789abcdefghijk"


def test_entries_become_digests_and_names() -> None:
    """name=token entries keep the (stripped) name, bare tokens none; only SHA-256 digests are kept."""
    tokens = parse_api_tokens(SecretStr(f" Alice Smith = {ALICE} ,{MACHINE},, "))
    assert tokens.entries == (
        ApiToken(hashlib.sha256(ALICE.encode()).digest(), "Alice Smith"),
        ApiToken(hashlib.sha256(MACHINE.encode()).digest(), None),
    )
    assert ALICE not in repr(tokens) and MACHINE not in repr(tokens)
    assert tokens.match(f"Bearer {ALICE}") is tokens.entries[0]
    assert tokens.match(f"bearer {MACHINE}") is tokens.entries[1]
    for header in (None, "", f"Basic {ALICE}", f"Bearer {ALICE}x", f"Bearer {ALICE[:-1]}", "Bearer "):
        assert tokens.match(header) is None, header
    assert parse_api_tokens(None).match(f"Bearer {ALICE}") is None


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        (
            f"={ALICE}",
            "Entry 1 in CRISISCAST_API_TOKENS has an empty name before '='; "
            "write name=token, or the token alone for read-only use.",
        ),
        (
            f"{MACHINE},alice=",
            "Entry 2 in CRISISCAST_API_TOKENS has no token after '='; write name=token "
            "(a token alone may not contain '=').",
        ),
        (
            "c2VjcmV0LXRva2Vu==",
            "Entry 1 in CRISISCAST_API_TOKENS has no token after '='; write name=token "
            "(a token alone may not contain '=').",
        ),
        (
            f"alice={ALICE},{MACHINE},bob={ALICE}",
            "Entries 1 and 3 in CRISISCAST_API_TOKENS have the same token; "
            "give each person and machine a token of their own.",
        ),
        (
            f"al\u200bice={ALICE}",
            "The name of entry 1 in CRISISCAST_API_TOKENS must name one person in at most 64 "
            "printable characters.",
        ),
    ],
)
async def test_malformed_entries_stop_the_server_at_start(tmp_path: Path, value: str, sentence: str) -> None:
    """An empty name, an empty token, a repeated token or an unprintable name is a ConfigError from
    build_app, one plain sentence that never echoes a token."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        with pytest.raises(ConfigError) as caught:
            build_app(
                make_settings(tmp_path), make_secrets(api_tokens=SecretStr(value)), store, Dispatcher(store)
            )
    finally:
        await store.close()
    assert str(caught.value) == sentence
    assert ALICE not in sentence and "c2VjcmV0" not in sentence


async def test_status_reads_with_a_person_or_a_machine_token(tmp_path: Path) -> None:
    """GET /v1/dispatches/{id} answers 200 to a named and a bare token, 401 to anything else."""
    h = await start_harness(tmp_path, secrets=make_secrets(api_tokens=SecretStr(f"alice={ALICE},{MACHINE}")))
    try:
        status, answer = await h.post_alert(FIRE)
        assert status == 202
        path = f"/v1/dispatches/{answer['dispatch_id']}"
        for token in (ALICE, MACHINE):
            resp = await h.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 200, token
        for header in (f"Bearer alice={ALICE}", f"Bearer {MACHINE[:-1]}", "Bearer alice"):
            resp = await h.client.get(path, headers={"Authorization": header})
            assert resp.status == 401, header
            assert ALICE not in await resp.text()
    finally:
        await stop_harness(h)


def test_named_tokens_are_redacted_on_their_own() -> None:
    """The redaction list holds each token of a name=token entry by itself, not only the entry."""
    values = make_secrets(api_tokens=SecretStr(f"alice={ALICE}, bob = {MACHINE}")).all_values()
    assert ALICE in values and MACHINE in values
