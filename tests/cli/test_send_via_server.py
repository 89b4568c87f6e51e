"""``crisiscast send --server URL``: the real console script hands the broadcast to a real app
(real SQLite store, Dispatcher and channels) on 127.0.0.1, which sends through the sandbox fakes.

The person acting is the holder of ``CRISISCAST_API_TOKEN``; without ``--yes`` the server's
confirmation question is asked and a "no" sends nothing; the token never shows in any output.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.config import load_settings
from crisiscast.dispatch import Dispatcher
from crisiscast.sandbox.runner import secrets_from_env
from crisiscast.server.app import build_app
from crisiscast.server.context import CONTEXT
from tests.cli.conftest import Cli

TOKEN = "dana-token-0123456789abcdef0123456789"
FIRE = ["send", "--template", "facility-fire", "--var", "location=Building A, floor 3"]


@asynccontextmanager
async def serving(cli: Cli) -> AsyncIterator[tuple[str, SqliteStore, Any]]:
    """The app ``crisiscast serve`` runs, on the CLI test's configuration, with dana's token."""
    settings = load_settings(cli.config)
    secrets = secrets_from_env({**cli.sandbox.env, "CRISISCAST_API_TOKENS": f"dana={TOKEN}"})
    store = SqliteStore(str(cli.audit_db))
    await store.open()
    app = build_app(settings, secrets, store, Dispatcher(store), console=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}", store, app[CONTEXT]
    finally:
        await server.close()
        await store.close()


def _texts(cli: Cli) -> int:
    """Texts the Twilio fake accepted."""
    return sum(
        1 for r in cli.sandbox.fakes["twilio"].requests if r.method == "POST" and 200 <= r.status < 300
    )


async def _kinds(store: SqliteStore) -> list[str]:
    return [e.event.kind.value async for e in store.events()]


async def test_send_with_yes_goes_through_the_server_and_reports_delivery(cli: Cli) -> None:
    async with serving(cli) as (url, store, _ctx):
        result = await cli.run(*FIRE, "--yes", "--json", "--server", url, env={"CRISISCAST_API_TOKEN": TOKEN})
        assert result.code == 0, (result.stdout, result.stderr)
        document = json.loads(result.stdout)
        assert document["state"] == "delivered"
        assert document["channels"]["sms"]["delivered"] == 2  # the two staff contacts
        dispatch_id = document["dispatch_id"]
        planned = [
            e.event.data async for e in store.events(dispatch_id) if e.event.kind.value == "dispatch_planned"
        ]
        assert planned[0]["approval"]["sent_by"] == "dana"
        assert planned[0]["approval"]["via"] == "api"
        assert _texts(cli) == 2
        assert TOKEN not in result.stdout + result.stderr
        last_progress = [line for line in result.stderr.splitlines() if " 2/2" in line][-1]
        assert last_progress.startswith("delivered: ") and "sms 2/2" in last_progress


async def test_without_yes_the_question_is_asked_and_no_sends_nothing(cli: Cli) -> None:
    async with serving(cli) as (url, store, _ctx):
        result = await cli.run(*FIRE, "--server", url, stdin="n\n", env={"CRISISCAST_API_TOKEN": TOKEN})
        assert result.code == 2, (result.stdout, result.stderr)
        assert "Send this Actual Alert to " in result.stderr and "(PRODUCTION)" in result.stderr
        assert "Nothing was sent: the broadcast was not confirmed" in result.stderr
        assert "dispatch_planned" not in await _kinds(store)
        assert _texts(cli) == 0
        result = await cli.run(
            *FIRE, "--status", "Exercise", "--server", url, stdin="y\n", env={"CRISISCAST_API_TOKEN": TOKEN}
        )
        assert result.code == 0, (result.stdout, result.stderr)
        assert "(exercise targets)" in result.stderr
        assert "sms" in result.stdout and "delivered" in result.stdout


async def test_no_token_no_server_and_a_wrong_token_each_say_one_sentence(cli: Cli) -> None:
    async with serving(cli) as (url, store, _ctx):
        result = await cli.run(*FIRE, "--yes", "--server", url, env={"CRISISCAST_API_TOKEN": None})
        assert result.code == 2
        assert "needs your own API token in CRISISCAST_API_TOKEN" in result.stderr
        wrong = "wrong-token-0123456789abcdef0123456789"
        result = await cli.run(*FIRE, "--yes", "--server", url, env={"CRISISCAST_API_TOKEN": wrong})
        assert result.code == 2
        assert result.stderr.startswith("Nothing was sent:") and "Traceback" not in result.stderr
        assert wrong not in result.stdout + result.stderr
        assert "draft_created" not in await _kinds(store)
    result = await cli.run(*FIRE, "--yes", "--server", url, env={"CRISISCAST_API_TOKEN": TOKEN})
    assert result.code == 2
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr
    assert "nothing was sent" in result.stderr  # refused: the request never left
    result = await cli.run(*FIRE, "--yes", "--server", "ftp://x", env={"CRISISCAST_API_TOKEN": TOKEN})
    assert result.code == 2 and "is not an http(s) address" in result.stderr
    # the token may come from the secrets file instead: found, so the command goes on to the server
    secrets = cli.tmp_path / "secrets.env"
    secrets.write_text(f"CRISISCAST_API_TOKEN={TOKEN}\n", encoding="utf-8")
    secrets.chmod(0o600)
    env = {"CRISISCAST_API_TOKEN": None, "CRISISCAST_SECRETS_FILE": str(secrets)}
    result = await cli.run(*FIRE, "--yes", "--server", url, env=env)
    assert result.code == 2 and "did not answer" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


async def test_serve_keeps_provider_connections_warm_between_dispatches(cli: Cli) -> None:
    """The second broadcast's texts leave on connections the first one opened (no new handshakes);
    a send outside serve would open new ones each time."""
    async with serving(cli) as (url, _store, ctx), ClientSession() as client:
        peers: list[set[str]] = []
        for floor in (3, 4):
            drill = {
                "status": "Exercise",
                "event": "Fire drill",
                "headline": f"Fire drill in Building A, floor {floor}",
                "description": "This is a drill. The fire alarm will sound in Building A.",
                "instruction": "Walk to the nearest exit and wait at the assembly point.",
                "audiences": ["all-staff"],
                "channels": ["sms"],
            }
            body = {"message": drill, "send": True}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with client.post(f"{url}/v1/drafts", json=body, headers=headers) as resp:
                assert resp.status == 202, await resp.text()
                answer = await resp.json()
            await ctx.runner.wait(answer["draft_id"])
            texts = [r for r in cli.sandbox.fakes["twilio"].requests if r.method == "POST"]
            peers.append({r.peer for r in texts[len(texts) - 3 :]})  # the drill team's three
        assert all(peers) and "" not in peers[0]
        assert peers[1] <= peers[0], peers


async def test_a_run_that_ends_with_texts_in_doubt_stops_the_follow_and_names_resume(
    cli: Cli, tmp_path: Any
) -> None:
    """When the server's run ends with deliveries still in doubt (nobody is sending them), the
    command stops following, says so and how to resume, and exits 3 — it does not wait forever."""
    from tests.server.helpers import PERSON_TOKEN, make_secrets, start_harness, stop_harness
    from tests.server.test_progress_api import _Unanswered

    secrets = make_secrets(api_tokens=SecretStr(f"dana={PERSON_TOKEN}"))
    h = await start_harness(
        tmp_path / "server", secrets=secrets, channel_names=("sms",), channel_class=_Unanswered
    )
    try:
        url = str(h.client.make_url("")).rstrip("/")
        result = await cli.run(*FIRE, "--yes", "--server", url, env={"CRISISCAST_API_TOKEN": PERSON_TOKEN})
        assert result.code == 3, (result.stdout, result.stderr)
        assert "is over with 2 deliveries still pending or in doubt" in result.stderr
        assert "crisiscast resume " in result.stderr
        assert "dispatching" in result.stdout
    finally:
        await stop_harness(h)
