"""The connection guard serves on uvloop, the loop ``crisiscast serve`` runs on by default.

uvloop's transports implement ``asyncio.Transport`` without subclassing it; the guard once
asserted the subclass and so reset every connection ``serve`` accepted.
"""

from __future__ import annotations

import asyncio

import aiohttp
import uvloop
from aiohttp import web

from crisiscast.server.connections import ConnectionLimits, GuardedSite, install, runner_options


async def _serve_one_request() -> tuple[int, str]:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    limits = ConnectionLimits()
    guard = install(app, limits)
    runner = web.AppRunner(app, **runner_options(limits))
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, guard)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        timeout = aiohttp.ClientTimeout(total=10)  # a refused connection fails, never hangs
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/") as resp,
        ):
            return resp.status, await resp.text()
    finally:
        await runner.cleanup()


def test_guarded_site_answers_on_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        assert runner.run(_serve_one_request()) == (200, "ok")
