"""A schedule published at a URL: fetched with aiohttp over real HTTP, a failure is one sentence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from crisiscast.roster.config import RosterConfig
from crisiscast.roster.fetch import ScheduleUnavailable, fetch_schedule_text
from crisiscast.roster.source import clear_cache, current_schedule
from tests.roster.data import ICAL


@pytest.fixture
async def server() -> AsyncIterator[str]:
    never = asyncio.Event()
    hits = {"n": 0}

    async def calendar(request: web.Request) -> web.Response:
        hits["n"] += 1
        return web.Response(text=ICAL, content_type="text/calendar")

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/on-call.ics", calendar)
    app.router.add_get("/hang.ics", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    clear_cache()
    yield f"http://127.0.0.1:{port}"
    never.set()
    await runner.cleanup()


async def test_a_url_schedule_is_fetched_and_read(server: str) -> None:
    text = await fetch_schedule_text(f"{server}/on-call.ics", timeout_s=5)
    assert text.startswith("BEGIN:VCALENDAR")


async def test_a_missing_calendar_is_one_sentence_without_the_query(server: str) -> None:
    with pytest.raises(ScheduleUnavailable) as caught:
        await fetch_schedule_text(f"{server}/gone.ics?token=s3cret", timeout_s=5)
    message = str(caught.value)
    assert "answered HTTP 404" in message and "s3cret" not in message and message.count(". ") == 0


async def test_a_server_that_does_not_answer_times_out(server: str) -> None:
    with pytest.raises(ScheduleUnavailable, match=r"did not answer within 0\.3 s"):
        await fetch_schedule_text(f"{server}/hang.ics", timeout_s=0.3)


async def test_current_schedule_fetches_a_url_once_and_keeps_failures_plain(server: str) -> None:
    # current_schedule is synchronous (as the CLI calls it): run off this loop, which serves the calendar
    config = RosterConfig(schedule=f"{server}/on-call.ics")
    schedule = await asyncio.to_thread(current_schedule, config)
    assert schedule is not None and not schedule.problems
    assert schedule.on_call(datetime(2026, 12, 4, 12, tzinfo=UTC))[0].who == "+16175550103"
    assert await asyncio.to_thread(current_schedule, config) is schedule  # cached for refresh_s
    hanging = RosterConfig(schedule=f"{server}/hang.ics", fetch_timeout_s=0.3)
    broken = await asyncio.to_thread(current_schedule, hanging)
    assert broken is not None and broken.on_call(datetime(2026, 12, 4, 12, tzinfo=UTC)) == []
    assert broken.problems == [
        f"The on-call schedule at {server}/hang.ics did not answer within 0.3 s; "
        "check the address or raise roster.fetch_timeout_s."
    ]
