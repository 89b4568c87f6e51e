"""``crisiscast resume`` and ``crisiscast db migrate`` as a user meets them (real CLI subprocess)."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from .world import World, drop_schema, pg_schema_url


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(
        tmp=tmp_path,
        store_url=f"sqlite:///{tmp_path / 'audit.db'}",
        mqtt_url="mqtt://127.0.0.1:1",
        sms_count=3,
    )
    await w.start()
    w.write_config(mqtt={"enabled": False})
    try:
        yield w
    finally:
        await w.stop()


async def test_resume_with_nothing_open_says_so_and_exits_0(world: World) -> None:
    """A fresh store: one plain sentence, exit 0, no provider request; --timing says none was needed."""
    run = await world.run("resume", "--timing")
    assert run.code == 0, run.stderr
    assert "Nothing to resume" in run.stdout
    assert "no provider request was needed" in run.stderr
    assert world.requests_since(run.started_s) == []


async def test_resume_of_an_unknown_dispatch_is_one_sentence_and_exit_2(world: World) -> None:
    """A mistyped id: exit 2 and one sentence naming the id and how to find the right one."""
    run = await world.run("resume", "20990101-000000-abcdef")
    assert run.code == 2
    assert (
        run.stderr.count("\n") == 1 and "20990101-000000-abcdef" in run.stderr and "audit list" in run.stderr
    )
    assert "Traceback" not in run.stderr


async def test_resume_of_a_finished_dispatch_sends_nothing_again(world: World) -> None:
    """Resuming a dispatch that already finished only counts it: no request reaches a provider."""
    sent = await world.run("send", str(world.message), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    dispatch_id = sent.stdout.split('"dispatch_id": "', 1)[1].split('"', 1)[0]
    again = await world.run("resume", dispatch_id)
    assert again.code == 0, again.stderr
    assert world.requests_since(again.started_s) == []


SEND_HOW = {
    "message file": ("send", "MESSAGE", "--yes"),
    "template": (
        *("send", "--template", "facility-fire", "--var", "location=Building A"),
        *("--status", "exercise", "--yes"),
    ),
}


@pytest.mark.parametrize("how", sorted(SEND_HOW))
async def test_ctrl_c_during_a_send_names_resume_and_resume_finishes_it(world: World, how: str) -> None:
    """Ctrl-C while the first texts are still at the provider: exit 130 and one sentence naming
    crisiscast resume (a template send said nothing at all before); resume then sends what was
    left (a resume interrupted the same way says the same), so every member of the drill team has
    their text."""
    world.write_config(mqtt={"enabled": False}, sms={"max_concurrency": 1})  # texts one at a time
    world.twilio.faults.latency_s = 0.5  # the first text is in flight when the interrupt comes
    args = tuple(str(world.message) if a == "MESSAGE" else a for a in SEND_HOW[how])
    sent = await world.run(*args, kill_after_posts=1, kill_signal=signal.SIGINT)
    assert sent.code == 130, sent.stdout + sent.stderr
    assert "crisiscast resume" in sent.stderr and sent.stderr.count("\n") == 1, sent.stderr
    assert "Traceback" not in sent.stderr
    # two texts were never attempted: the resume's first POST is one of them, interrupted again
    again = await world.run("resume", kill_after_posts=1, kill_signal=signal.SIGINT)
    assert again.code == 130 and "crisiscast resume" in again.stderr, again.stdout + again.stderr
    world.twilio.faults.latency_s = 0.0
    resumed = await world.run("resume")
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    texted = {parse_qs(r.body).get("To", [""])[0] for r in world.posts("twilio")}
    assert texted >= {f"+1617555{1000 + i:04d}" for i in range(world.sms_count)}


async def test_db_migrate_is_safe_to_run_twice(world: World) -> None:
    """db migrate creates the schema, and a second run changes nothing; both exit 0."""
    first = await world.run("db", "migrate")
    second = await world.run("db", "migrate")
    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    assert "up to date" in second.stdout


async def test_db_migrate_on_postgresql(world: World, postgres_url: str) -> None:
    """db migrate on a fresh PostgreSQL schema creates the audit tables (the store then opens)."""
    url, schema = await pg_schema_url(postgres_url)
    try:
        world.store_url = url
        world.write_config(mqtt={"enabled": False})
        run = await world.run("db", "migrate")
        assert run.code == 0, run.stderr
        import asyncpg

        conn = await asyncpg.connect(postgres_url)
        try:
            tables = {
                r[0]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
                )
            }
        finally:
            await conn.close()
        assert {"events", "deliveries", "dispatches", "schema_migrations"} <= tables
    finally:
        await drop_schema(postgres_url, schema)
