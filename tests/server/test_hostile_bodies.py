"""POST /v1/alerts with hostile or careless bodies: each is refused with 422 and nothing is sent."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import aiohttp

from tests.server.helpers import (
    FIRE,
    TEMPLATES_DIR,
    Harness,
    make_secrets,
    make_settings,
    start_harness,
    stop_harness,
)


async def test_duplicate_keys_in_a_json_body_are_422(harness: Harness) -> None:
    """A key given twice (top level or nested) is refused with 422 naming it, instead of the last
    one silently winning (an Exercise that turns Actual); nothing is sent or bound."""
    bodies = [
        '{"template": "facility-fire", "status": "Exercise", "variables": {"location": "A"},'
        ' "status": "Actual"}',
        '{"template": "facility-fire", "status": "Exercise",'
        ' "variables": {"location": "Building A", "location": "Building B"}}',
        '{"message": {"status": "Exercise", "headline": "Drill", "status": "Actual"}}',
    ]
    for n, body in enumerate(bodies):
        status, answer = await harness.post_alert(body, f"msg_dup_{n}")
        assert status == 422, answer
        assert "twice" in answer["error"], answer
    assert harness.sends() == []
    assert harness.built == []
    # The rejected id is not bound: the corrected alert with the same id is accepted.
    fixed = '{"template": "facility-fire", "status": "Exercise", "variables": {"location": "A"}}'
    status, answer = await harness.post_alert(fixed, "msg_dup_0")
    assert status == 202 and answer["state"] == "dispatching"


async def test_a_broken_template_file_is_skipped_and_intake_stays_up(tmp_path: Path) -> None:
    """A broken file in the templates directory is reported in /healthz; every other template is
    still dispatched at once, and a request for the broken one says why it is not available."""
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    (folder / "zz-broken.yaml").write_text("id: zz-broken\nversion: [1\n", encoding="utf-8")
    settings = make_settings(tmp_path).model_copy(update={"templates_dir": str(folder)})
    h = await start_harness(tmp_path, settings=settings)
    try:
        resp = await h.client.get("/healthz")
        health = await resp.json()
        assert resp.status == 200 and health["ok"] is True
        assert [Path(s["file"]).name for s in health["templates_skipped"]] == ["zz-broken.yaml"]
        status, answer = await h.post_alert(FIRE, "msg_after_broken")
        assert status == 202 and answer["state"] == "dispatching", answer
        broken = {"template": "zz-broken", "status": "Exercise"}
        status, answer = await h.post_alert(broken, "msg_broken")
        assert status == 422 and "is not available" in answer["error"], answer
    finally:
        await stop_harness(h)


async def test_serve_starts_with_a_broken_template_file(tmp_path: Path) -> None:
    """``serve`` no longer stops on one bad template file: it serves, and /healthz names the file."""
    from crisiscast.cli import serve_cmd
    from crisiscast.config import load_settings

    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    (folder / "bad.yml").write_text("- just a list\n", encoding="utf-8")
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        f'templates_dir = "{folder}"\nbase_dir = "{tmp_path}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "a.db"}"\n'
        '[channels.mqtt]\nenabled = false\n[server]\nhost = "127.0.0.1"\nport = 0\n'
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve_cmd.serve_until(load_settings(config), make_secrets(), stop=stop, ready=ready)
    )
    try:
        url = await asyncio.wait_for(ready, 10)
        async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as resp:
            health = await resp.json()
        assert resp.status == 200
        assert [Path(s["file"]).name for s in health["templates_skipped"]] == ["bad.yml"]
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)


CAP_WITH = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>FP-2026-0099</identifier><sender>firepanel@hospital.example</sender>
  <sent>2026-11-28T14:05:00-05:00</sent><status>Exercise</status><msgType>Alert</msgType><scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire alarm</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <headline>{headline}</headline></info>
</alert>"""


async def test_hidden_characters_are_refused_at_every_webhook_entry(harness: Harness) -> None:
    """An ESC sequence, a direction override or a zero-width character in a JSON message, a
    template variable or a CAP headline is refused with 422 naming the code point; nothing is
    drafted or sent."""
    cases: list[tuple[str, str, str]] = [
        (
            json.dumps({"message": {"status": "Exercise", "headline": "Drill \x1b[8mEVACUATE NOW"}}),
            "application/json",
            "U+001B",
        ),
        (
            json.dumps({"message": {"status": "Exercise", "headline": "Drill", "description": "a\u202eb"}}),
            "application/json",
            "U+202E",
        ),
        (
            json.dumps(
                {"template": "facility-fire", "status": "Exercise", "variables": {"location": "B\u202eA"}}
            ),
            "application/json",
            "U+202E",
        ),
        (
            json.dumps(
                {"template": "facility-fire", "status": "Exercise", "variables": {"location": "B\x9b"}}
            ),
            "application/json",
            "control",
        ),
        (CAP_WITH.format(headline="Fire &#x202E;drill"), "application/cap+xml", "U+202E"),
        (CAP_WITH.format(headline="Fire\u200bdrill"), "application/cap+xml", "U+200B"),
    ]
    for n, (body, content_type, expected) in enumerate(cases):
        status, answer = await harness.post_alert(body, f"msg_hidden_{n}", content_type=content_type)
        assert status == 422, (n, answer)
        assert expected in answer["error"], (n, answer)
    assert harness.sends() == [] and harness.built == []
