"""HTTP routes of the website banner: the JSON feed, the embeddable script and a sample page.

- ``GET /banner.json`` — the current banner document (``{"status": "none"}`` when there is
  none; an expired banner is served as cleared). ``/banner-exercise.json`` serves the
  exercise banner when ``exercise_path`` is configured. Short cache (``max-age=10``, less
  when the banner expires sooner), ``Access-Control-Allow-Origin: *`` so the hospital's
  pages on other origins can read it, and an ``ETag`` so a poll usually costs a ``304``.
- ``GET /banner.js`` — the script a page embeds with one ``<script async>`` tag.
- ``GET /banner/sample`` — a sample hospital page embedding it (``?feed=exercise`` shows
  the exercise banner; ``?poll_ms=N`` polls faster, for drills and tests).

The state file is read on every request (it is small, and written atomically by the banner
channel, possibly by another process), so the feed is always current.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from aiohttp import web

from crisiscast.channels.banner import SPEC
from crisiscast.channels.banner.channel import current_banner
from crisiscast.channels.spec import RouteHooks
from crisiscast.config import Settings
from crisiscast.jsontypes import JsonMapping

__all__ = ["FEED_MAX_AGE_S", "add_banner_routes"]

FEED_MAX_AGE_S = 10
SCRIPT_MAX_AGE_S = 300
_SCRIPT_TAG = '<script src="/banner.js" async></script>'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _static(name: str) -> bytes:
    return resources.files("crisiscast").joinpath("static", name).read_bytes()


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _not_modified(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in wanted.split(",")) or wanted.strip() == "*"


def _respond(
    request: web.Request, body: bytes, *, content_type: str, headers: Mapping[str, str]
) -> web.Response:
    etag = _etag(body)
    all_headers = {"ETag": etag, "X-Content-Type-Options": "nosniff", **headers}
    if _not_modified(request, etag):
        return web.Response(status=304, headers=all_headers)
    return web.Response(body=body, headers={"Content-Type": content_type, **all_headers})


def feed_max_age_s(document: JsonMapping, *, now: datetime | None = None) -> int:
    """How long a cache may keep ``document``: ``FEED_MAX_AGE_S``, less if it expires sooner."""
    expires = document.get("expires_at")
    if document.get("status") != "active" or not isinstance(expires, str):
        return FEED_MAX_AGE_S
    try:
        when = datetime.fromisoformat(expires)
    except ValueError:
        return FEED_MAX_AGE_S
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    left_s = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(FEED_MAX_AGE_S, math.floor(left_s)))


def _feed_handler(path: Path) -> Handler:
    async def feed(request: web.Request) -> web.Response:
        document = await asyncio.to_thread(current_banner, path)
        body = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {
            "Cache-Control": f"public, max-age={feed_max_age_s(document)}",
            "Access-Control-Allow-Origin": "*",
        }
        return _respond(request, body, content_type="application/json; charset=utf-8", headers=headers)

    return feed


def _sample_page(page: str, *, feed: str | None, poll_ms: int | None) -> str:
    attrs = ""
    if feed:
        attrs += f' data-feed="{feed}"'
    if poll_ms:
        attrs += f' data-poll-ms="{poll_ms}"'
    return page.replace(_SCRIPT_TAG, f'<script src="/banner.js"{attrs} async></script>')


def add_banner_routes(app: web.Application, settings: Settings) -> RouteHooks:
    """Add ``/banner.json`` (and ``/banner-exercise.json``), ``/banner.js`` and ``/banner/sample``."""
    config = SPEC.config(settings)
    app.router.add_get("/banner.json", _feed_handler(settings.resolve(config.path)))
    if config.exercise_path:
        app.router.add_get("/banner-exercise.json", _feed_handler(settings.resolve(config.exercise_path)))
    script = _static("banner.js")
    sample = _static("banner-sample.html").decode("utf-8")

    async def banner_js(request: web.Request) -> web.Response:
        headers = {"Cache-Control": f"public, max-age={SCRIPT_MAX_AGE_S}", "Access-Control-Allow-Origin": "*"}
        return _respond(request, script, content_type="text/javascript; charset=utf-8", headers=headers)

    async def banner_sample(request: web.Request) -> web.Response:
        feed = "/banner-exercise.json" if request.query.get("feed") == "exercise" else None
        poll = request.query.get("poll_ms", "")
        poll_ms = int(poll) if poll.isdigit() and 50 <= int(poll) <= 600_000 else None
        body = _sample_page(sample, feed=feed, poll_ms=poll_ms).encode("utf-8")
        return _respond(
            request, body, content_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    app.router.add_get("/banner.js", banner_js)
    app.router.add_get("/banner/sample", banner_sample)
    links = [("banner sample page", "/banner/sample"), ("banner feed", "/banner.json")]
    if config.exercise_path:
        links += [
            ("exercise banner sample page", "/banner/sample?feed=exercise"),
            ("exercise banner feed", "/banner-exercise.json"),
        ]
    return RouteHooks(links=tuple(links))
