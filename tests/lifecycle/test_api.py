"""The lifecycle over HTTP (real server on 127.0.0.1, real channels against the sandbox fakes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.channels.registry import build_channels
from crisiscast.config import Settings, load_settings
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from crisiscast.server.app import build_app
from crisiscast.server.context import CONTEXT
from crisiscast.server.lifecycle_api import wait_background
from crisiscast.templates import load_templates
from tests.cli.conftest import ROOT
from tests.lifecycle.conftest import CONTACTS, STAFF, sandbox_config

pytestmark = pytest.mark.asyncio

ALICE_TOKEN = "alice-api-token-0123456789abcdefghij"
BOB_TOKEN = "bob-api-token-0123456789abcdefghijkl"
MACHINE_TOKEN = "machine-api-token-0123456789abcdefgh"  # names no person: status only
TOKENS = f"alice={ALICE_TOKEN}, bob={BOB_TOKEN},{MACHINE_TOKEN}"
BEARER = {"alice": ALICE_TOKEN, "bob": BOB_TOKEN, "machine": MACHINE_TOKEN, "wrong": "not-a-configured-token"}
POLICY = "policy: 2 distinct approvers for Actual free text"


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    store: SqliteStore
    settings: Settings
    sandbox: Sandbox
    tmp_path: Path
    limiters: LimiterRegistry

    async def post(self, path: str, body: Any, *, as_: str | None = "alice") -> tuple[int, dict[str, Any]]:
        """POST ``body`` with the token of ``as_`` (a key of ``BEARER``; None: no Authorization)."""
        headers = {"Authorization": f"Bearer {BEARER[as_]}"} if as_ else {}
        resp = await self.client.post(path, json=body, headers=headers)
        return resp.status, await resp.json()

    async def finished(self, dispatch_id: str) -> None:
        await wait_background(self.client.app)
        await self.client.app[CONTEXT].runner.wait(dispatch_id)

    def texted(self) -> list[str]:
        fake: Any = self.sandbox.fakes["twilio"]
        return [m["to"] for m in fake.messages()]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    sandbox = await start_sandbox(load_settings(ROOT / "config" / "crisiscast.toml"))
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    settings = Settings.model_validate(sandbox_config(tmp_path, sandbox))
    secrets = sandbox.secrets().model_copy(update={"api_tokens": SecretStr(TOKENS)})
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    limiters = LimiterRegistry()  # this test's own X rate budget
    app = build_app(settings, secrets, store, Dispatcher(store, limiters=limiters), probes={})
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Api(client, store, settings, sandbox, tmp_path, limiters)
    finally:
        await client.close()
        await store.close()
        await sandbox.stop()


async def _alert(api: Api) -> str:
    """A template alert sent in-process (what a webhook or the CLI would have sent)."""
    catalog = load_templates(ROOT / "config" / "templates")
    message = catalog.get("facility-fire").render({"location": "Building D"}, status="Actual")  # type: ignore[arg-type]
    channels, skipped = build_channels(api.settings, api.sandbox.secrets(), message)
    report = await Dispatcher(api.store, limiters=api.limiters).dispatch(
        message, channels, approval={"method": "pre_approved_template"}, skipped=skipped
    )
    return report.dispatch_id


FREE_TEXT = {
    "status": "Actual",
    "headline": "Building D: the fire is out, stay clear of floor 2",
    "event": "Fire",
    "audiences": ["all-staff"],
}


async def test_free_text_update_over_http_needs_a_second_person(api: Api) -> None:
    """S5 over HTTP: alice's free-text Update is held; with her own token she cannot approve or send
    it; after bob approves with his token it is sent, by SMS only to the numbers the alert reached,
    and the audit names alice as author and bob as approver."""
    d1 = await _alert(api)
    reached = sorted(api.texted())
    assert reached == list(STAFF[:2])
    status, held = await api.post(f"/v1/dispatches/{d1}/update", {"message": FREE_TEXT}, as_="alice")
    assert status == 202 and held["state"] == "awaiting_approval"
    draft = held["dispatch_id"]
    assert held["needs"] == f"Draft {draft} needs 1 more approval from someone other than alice ({POLICY})."
    status, refused = await api.post(f"/v1/drafts/{draft}/approvals", {}, as_="alice")
    assert (status, refused["error"]) == (
        403,
        f"alice wrote draft {draft} and may not approve their own Actual message; "
        f"ask someone else to run crisiscast approve {draft}.",
    )
    status, refused = await api.post(f"/v1/drafts/{draft}/send", {"operator": "alice"}, as_="alice")
    assert (status, refused["error"]) == (403, held["needs"])
    status, approved = await api.post(f"/v1/drafts/{draft}/approvals", {}, as_="bob")
    assert status == 200 and approved["ready"] is True and approved["missing"] == 0
    assert approved["approver"] == "bob"
    # FREE_TEXT fails the quality gate (no source, no Spanish): it goes with a recorded reason
    # (tests/lifecycle/test_quality_override_api.py)
    status, sent = await api.post(f"/v1/drafts/{draft}/send", {"quality_override": "test"}, as_="alice")
    assert status == 202 and sent["state"] == "dispatching"
    status, _ = await api.post(f"/v1/drafts/{draft}/send", {}, as_="bob")
    assert status == 409
    await api.finished(draft)
    assert sorted(api.texted()[len(reached) :]) == reached
    record = await api.store.dispatch(draft)
    assert record is not None and record.summary["approval"]["approvers"] == ["bob"]
    events = [e.event async for e in api.store.events(draft)]
    created = next(e for e in events if e.kind.value == "draft_created")
    assert created.data["author"] == "alice"


async def test_one_token_cannot_approve_as_a_second_person(api: Api) -> None:
    """The defect this pins: alice's token posts an Update "as alice" and then tries to approve it
    "as bob"; the body's operator is not the token's holder, so it is 403, nothing is recorded,
    and the draft still cannot be sent."""
    d1 = await _alert(api)
    status, held = await api.post(
        f"/v1/dispatches/{d1}/update", {"operator": "alice", "message": FREE_TEXT}, as_="alice"
    )
    assert status == 202 and held["state"] == "awaiting_approval"
    draft = held["dispatch_id"]
    for route in ("approvals", "send"):
        status, refused = await api.post(f"/v1/drafts/{draft}/{route}", {"operator": "bob"}, as_="alice")
        assert (status, refused["error"]) == (
            403,
            "This token belongs to alice and cannot act as bob; bob must send the request with their "
            'own token (leave "operator" out to act as alice).',
        )
    events = [e.event.kind.value async for e in api.store.events(draft)]
    assert events == ["draft_created"]
    status, refused = await api.post(f"/v1/drafts/{draft}/send", {}, as_="alice")
    assert (status, refused["error"]) == (403, held["needs"])
    # the same person written differently is still that person
    status, refused = await api.post(f"/v1/drafts/{draft}/approvals", {"operator": "ＡＬＩＣＥ"}, as_="alice")
    assert status == 403 and refused["error"].startswith("alice wrote draft")


async def test_machine_token_reads_status_but_acts_for_nobody(api: Api) -> None:
    """A bare token (no name) reads the status API, but approve, send, update and cancel are 403
    with one plain sentence; a token that is not configured is 401 with a Bearer challenge."""
    d1 = await _alert(api)
    resp = await api.client.get(f"/v1/dispatches/{d1}", headers={"Authorization": f"Bearer {MACHINE_TOKEN}"})
    assert resp.status == 200 and (await resp.json())["dispatch_id"] == d1
    _, held = await api.post(f"/v1/dispatches/{d1}/update", {"message": FREE_TEXT}, as_="alice")
    draft = held["dispatch_id"]
    sentence = (
        "This API token names no person, so it may only read dispatch status; approve, send, update "
        "and cancel with your own token, configured as name=token in CRISISCAST_API_TOKENS."
    )
    for path, body in (
        (f"/v1/drafts/{draft}/approvals", {}),
        (f"/v1/drafts/{draft}/send", {"operator": "bob"}),
        (f"/v1/dispatches/{d1}/update", {"template": "facility-fire", "variables": {"location": "D"}}),
        (f"/v1/dispatches/{d1}/cancel", {"reason": "drill"}),
    ):
        assert await api.post(path, body, as_="machine") == (403, {"error": sentence}), path
        resp = await api.client.post(
            path, json=body, headers={"Authorization": "Bearer not-a-configured-token"}
        )
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer"), path
    record = await api.store.dispatch(d1)
    assert record is not None and record.state != "cancelled"
    assert [e.event.kind.value async for e in api.store.events(draft)] == ["draft_created"]


async def test_cancel_over_http_clears_and_sends_the_all_clear_to_the_reach(api: Api) -> None:
    """The cancel answers at once; the all-clear template then reaches exactly the alert's SMS
    recipients and clears the banner; the cancel names the token's holder."""
    d1 = await _alert(api)
    reached = sorted(api.texted())
    status, answer = await api.post(f"/v1/dispatches/{d1}/cancel", {"reason": "drill"}, as_="bob")
    assert status == 202 and answer["state"] == "cancelled"
    all_clear = answer["all_clear"]["dispatch_id"]
    await api.finished(all_clear)
    assert sorted(api.texted()[len(reached) :]) == reached
    banner = json.loads((api.tmp_path / "banner.json").read_text(encoding="utf-8"))
    assert (banner["status"], banner["msg_type"]) == ("cleared", "Cancel")
    records = await api.store.deliveries(all_clear)
    assert records and all(r.state is DeliveryState.DELIVERED for r in records)
    record = await api.store.dispatch(d1)
    assert record is not None and record.summary["cancel"]["who"] == "bob"


async def test_lifecycle_api_refuses_plainly(api: Api) -> None:
    """No token → 401; a body that is not an object (or nests too deep to parse) or an operator that
    is not a string → 400;
    an unknown id → 404; an unknown all-clear template → 422."""
    assert (await api.post("/v1/drafts/nope/send", {"operator": "alice"}, as_=None))[0] == 401
    assert (await api.post("/v1/drafts/nope/send", ["alice"]))[0] == 400
    assert (await api.post("/v1/drafts/nope/send", {"operator": 7}))[0] == 400
    deep = await api.client.post(
        "/v1/drafts/nope/send", data="[" * 60_000, headers={"Authorization": f"Bearer {ALICE_TOKEN}"}
    )
    assert (deep.status, await deep.json()) == (400, {"error": "The body must be a JSON object."})
    status, body = await api.post("/v1/drafts/nope/approvals", {"operator": "alice"})
    assert (status, body["error"]) == (404, "There is no draft or dispatch 'nope'; check the id.")
    d1 = await _alert(api)
    status, body = await api.post(f"/v1/dispatches/{d1}/cancel", {"all_clear": {"template": "x"}})
    assert (status, body["error"]) == (422, "There is no approved template 'x'.")


async def test_update_naming_no_template_id_is_422(api: Api) -> None:
    """An update whose "template" is not a template id (a number, a list) is refused with 422, not a 500."""
    d1 = await _alert(api)
    for bad in (7, ["facility-fire"], {"id": "facility-fire"}):
        status, body = await api.post(f"/v1/dispatches/{d1}/update", {"template": bad})
        assert status == 422, bad
        assert body["error"] == '"template" must be the id of an approved template, such as "facility-fire".'
