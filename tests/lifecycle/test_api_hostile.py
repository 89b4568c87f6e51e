"""The lifecycle API with hostile bodies: duplicate keys, hidden characters, and who is recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from crisiscast.audit.events import EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.config import Settings, load_settings
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.sandbox.runner import start_sandbox
from crisiscast.server.app import build_app
from tests.cli.conftest import ROOT
from tests.lifecycle.conftest import CONTACTS, sandbox_config
from tests.lifecycle.test_api import BEARER, FREE_TEXT, TOKENS, Api, _alert

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def lifecycle_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app on 127.0.0.1 with alice's and bob's API tokens, against the sandbox providers."""
    sandbox = await start_sandbox(load_settings(ROOT / "config" / "crisiscast.toml"))
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    settings = Settings.model_validate(sandbox_config(tmp_path, sandbox))
    secrets = sandbox.secrets().model_copy(update={"api_tokens": SecretStr(TOKENS)})
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    limiters = LimiterRegistry()
    app = build_app(settings, secrets, store, Dispatcher(store, limiters=limiters), probes={})
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Api(client, store, settings, sandbox, tmp_path, limiters)
    finally:
        await client.close()
        await store.close()
        await sandbox.stop()


async def _raw(api: Api, path: str, body: str, as_: str = "alice") -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {BEARER[as_]}", "Content-Type": "application/json"}
    resp = await api.client.post(path, data=body.encode(), headers=headers)
    return resp.status, await resp.json()


async def test_duplicate_keys_and_hidden_characters_are_refused(lifecycle_api: Api) -> None:
    """A body naming "operator" twice (alice, then bob) is refused with 400 rather than acting as
    the last one; an update whose headline holds ESC[8m is refused; nothing is recorded or sent."""
    api = lifecycle_api
    d1 = await _alert(api)
    status, refused = await _raw(
        api, f"/v1/dispatches/{d1}/update", '{"operator": "alice", "operator": "bob"}'
    )
    assert status == 400 and "'operator' twice" in str(refused["error"]), refused
    hidden = {**FREE_TEXT, "headline": "All clear \x1b[8mEVACUATE NOW"}
    status, refused = await _raw(api, f"/v1/dispatches/{d1}/update", json.dumps({"message": hidden}))
    assert status in (400, 422) and "U+001B" in str(refused["error"]), refused


async def test_an_api_draft_records_the_token_holder_as_its_identity_basis(lifecycle_api: Api) -> None:
    """A draft made through the API records that the identity rests on the API token."""
    api = lifecycle_api
    d1 = await _alert(api)
    status, held = await _raw(api, f"/v1/dispatches/{d1}/update", json.dumps({"message": FREE_TEXT}))
    assert status == 202, held
    events = [e async for e in api.store.events(str(held["dispatch_id"]))]
    created = events[0].event
    assert created.kind is EventKind.DRAFT_CREATED
    assert created.data["identity_basis"] == "api-token" and created.data["token_holder"] == "alice"
