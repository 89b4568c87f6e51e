"""``crisiscast serve`` (serve_until) and ``crisiscast status`` against a real store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
import typer
from typer.testing import CliRunner

from crisiscast.cli import serve_cmd, status_cmd
from crisiscast.config import Settings
from tests.server.helpers import (
    FIRE,
    TEMPLATES_DIR,
    make_secrets,
    signed_headers,
    start_harness,
    stop_harness,
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The commands configure logging onto the runner's (then closed) streams: put it back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        f"""
templates_dir = "{TEMPLATES_DIR}"
base_dir = "{tmp_path}"
[store]
url = "sqlite:///{tmp_path / "audit.db"}"
[channels.mqtt]
enabled = false
[server]
host = "127.0.0.1"
port = 0
"""
    )
    return config


async def test_serve_answers_then_stops_gracefully(tmp_path: Path) -> None:
    """serve_until opens the store, serves the API on the configured address, returns when stopped."""
    from crisiscast.config import load_settings

    settings: Settings = load_settings(write_config(tmp_path))
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_cmd.serve_until(settings, make_secrets(), stop=stop, ready=ready))
    url = await asyncio.wait_for(ready, 10)
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["checks"] == {"store": "ok"}
        body = json.dumps({"message": {"status": "Exercise", "headline": "Drill: evacuate wing C"}})
        async with session.post(
            url + "/v1/alerts", data=body, headers=signed_headers(body, "serve-1")
        ) as resp:
            assert resp.status == 202
            assert (await resp.json())["state"] == "awaiting_approval"
    stop.set()
    await asyncio.wait_for(server, 15)


@pytest.mark.usefixtures("restore_logging")
def test_status_command_shows_the_dispatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`crisiscast status ID --json` prints the status document; the table view names the channels;
    an unknown id is exit 2 with one sentence."""
    config = write_config(tmp_path)

    async def prepare() -> str:
        h = await start_harness(tmp_path, settings=None)
        try:
            _, body = await h.post_alert(FIRE, "cli-1")
            await h.ctx.runner.wait(body["dispatch_id"])
            return str(body["dispatch_id"])
        finally:
            await stop_harness(h)

    dispatch_id = asyncio.run(prepare())
    app = typer.Typer()
    status_cmd.register(app)
    serve_cmd.register(app)
    monkeypatch.setenv("CRISISCAST_CONFIG", str(config))
    from crisiscast.cli import common

    # no --config left behind by an earlier in-process invocation of the main app
    monkeypatch.setattr(common, "_OPTIONS", common.Options())
    runner = CliRunner()
    result = runner.invoke(app, ["status", dispatch_id, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    document = json.loads(result.stdout)
    assert document["state"] == "delivered" and document["channels"]["sms"]["delivered"] == 2
    result = runner.invoke(app, ["status", dispatch_id, "--watch"])
    assert result.exit_code == 0
    assert "delivered" in result.stdout and "sms" in result.stdout and "+15550100001" in result.stdout
    result = runner.invoke(app, ["status", "d-missing"])
    assert result.exit_code == 2
    assert "There is no dispatch 'd-missing'" in result.output
