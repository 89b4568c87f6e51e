"""``GET /v1/dispatches/{id}/progress``: where a dispatch stands, small and cheap to ask often.

For following a dispatch while it runs (``crisiscast send --server``, a script, a wall board):
the per-channel counts (``crisiscast.audit.counts``) counted in the database
(``AuditStore.delivery_tally``), the one-word ``state``, whether it is ``finished``, and a
``version`` that changes whenever any of them does. It names no recipient, so a machine's
status-only token may read it too. The status document (``GET /v1/dispatches/{id}``) stays the
record: it is rebuilt from the dispatch's events and lists every SMS recipient, which for a
whole-system alert is megabytes and seconds of work — not something to ask twice a second while
the same process is sending.

Long-poll: with ``?seen=<version>`` (the ``version`` of the previous answer) the request is held
until the counts or the state change, the dispatch finishes, or ``wait_s`` passes (default 10,
at most 25), and then answered. A dispatch running in this process wakes its waiters as its
deliveries settle (``crisiscast.server.progress_hub``): a follower is counted again at most every
0.2 s, and at most every nine times what counting took (50 ms at 100,000 recipients: every
0.45 s), so following costs a sending process about a tenth of its time at most; the end of
the run answers at once. A dispatch sent elsewhere (``serve --worker-id`` workers) is counted
again every ``RECHECK_S``. Shutdown answers every held request at once.

Answers: 200 with the progress document; 400 for a ``wait_s`` that is not 0–25 seconds; 401
without a valid token; 404 for an unknown id.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from crisiscast.server.auth import AuthRefused, authenticate
from crisiscast.server.context import CONTEXT, error_response
from crisiscast.server.status_view import progress_document

__all__ = ["MAX_WAIT_S", "RECHECK_S", "add_progress_routes"]

DEFAULT_WAIT_S = 10.0
MAX_WAIT_S = 25.0  # below the usual 30 s idle timeouts of proxies in between
RECHECK_S = 1.0  # a dispatch not running here is counted again this often while a request waits


def _wait_s(request: web.Request) -> float | None:
    raw = request.query.get("wait_s")
    if raw is None:
        return DEFAULT_WAIT_S
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 <= value <= MAX_WAIT_S else None


async def get_progress(request: web.Request) -> web.StreamResponse:
    try:
        authenticate(request)
    except AuthRefused as exc:
        return exc.response()
    wait_s = _wait_s(request)
    if wait_s is None:
        return error_response(400, f"wait_s must be a number of seconds from 0 to {MAX_WAIT_S:g}.")
    ctx = request.app[CONTEXT]
    dispatch_id = request.match_info["dispatch_id"]
    seen = request.query.get("seen")
    hub = ctx.runner.changes
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        here = dispatch_id in ctx.runner.running
        if seen is not None and here:
            # a follower of a dispatch sending here: let settles land first (longer for a very
            # large one: hub.pause_s); the end of the run answers at once
            await hub.wait(dispatch_id, min(hub.pause_s(dispatch_id), deadline - loop.time()), end_only=True)
        started = loop.time()
        document = await progress_document(ctx.store, dispatch_id)
        if document is None:
            return error_response(404, f"There is no dispatch {dispatch_id[:80]!r}; check the id.")
        if here and dispatch_id in ctx.runner.running:  # not after its end: ended() forgot it
            hub.record_cost(dispatch_id, loop.time() - started)
        left_s = deadline - loop.time()
        if seen is None or document["version"] != seen or document["finished"] or left_s <= 0 or hub.closed:
            return web.json_response(document, headers={"Cache-Control": "no-store"})
        if here and dispatch_id not in ctx.runner.running:
            continue  # the run ended while we counted (its end woke nobody yet): count again now
        await hub.wait(dispatch_id, left_s if here else min(left_s, RECHECK_S))


def add_progress_routes(app: web.Application) -> None:
    """Register ``GET /v1/dispatches/{dispatch_id}/progress``; shutdown releases held requests."""
    app.router.add_get("/v1/dispatches/{dispatch_id}/progress", get_progress)

    async def release(app: web.Application) -> None:
        app[CONTEXT].runner.changes.close()

    app.on_shutdown.insert(0, release)
