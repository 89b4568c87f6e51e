"""The CAP feeds on ``crisiscast serve``, read from the audit store.

- ``GET {feed_path}`` (``/cap/feed.atom``): an Atom feed of the Actual alerts published
  (their ``cap`` delivery delivered), newest first, those past their ``expires`` left out;
  each entry links to its CAP document and carries ``cap:status``, ``cap:msgType``,
  ``cap:severity`` and ``cap:expires``.
- ``GET {exercise_feed_path}`` (``/cap/exercise/feed.atom``): the same for Exercise and Test
  alerts, never mixed with the Actual ones.
- ``GET /cap/{identifier}.xml``: the CAP 1.2 document exactly as planned and approved.

Cacheable: an ``ETag`` on every answer (``If-None-Match`` → 304), ``Cache-Control: public``
with ``feed_max_age_s`` for the feeds and a day for a document (it never changes), and
``Access-Control-Allow-Origin: *``. Nothing about staff is served: the documents hold the
message's public words only (``document``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.channels.cap_feed import SPEC
from crisiscast.channels.cap_feed.channel import ACTUAL_FEED, EXERCISE_FEED
from crisiscast.channels.cap_feed.config import CapConfig
from crisiscast.channels.cap_feed.document import CAP_NS, cap_time
from crisiscast.channels.spec import RouteDeps, RouteHooks
from crisiscast.delivery import DeliveryState
from crisiscast.message import CrisisMessage

__all__ = ["DOCUMENT_MAX_AGE_S", "Published", "add_cap_routes", "current_entries", "published"]

ATOM_NS = "http://www.w3.org/2005/Atom"
DOCUMENT_MAX_AGE_S = 86400
SCAN_DISPATCHES = 500


@dataclass(frozen=True, slots=True)
class Published:
    feed: str
    message: CrisisMessage
    document: str


async def published(store: AuditStore, *, limit: int = SCAN_DISPATCHES) -> list[Published]:
    """Every alert on a CAP feed (its ``cap`` delivery delivered), newest dispatch first."""
    out: list[Published] = []
    for record in await store.dispatches(limit=limit):
        for delivery in await store.deliveries(record.dispatch_id, states=[DeliveryState.DELIVERED]):
            if delivery.delivery.channel == SPEC.name:
                message = CrisisMessage.model_validate(record.message)
                out.append(Published(delivery.delivery.target, message, delivery.delivery.body))
    out.sort(key=lambda p: p.message.sent, reverse=True)
    return out


def current_entries(items: list[Published], feed: str, *, now: datetime, limit: int) -> list[Published]:
    """The entries of ``feed`` at ``now``: not expired, newest first, at most ``limit``."""
    current = [p for p in items if p.feed == feed and (p.message.expires is None or p.message.expires > now)]
    return current[:limit]


def _respond(request: web.Request, body: bytes, content_type: str, max_age_s: int) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age_s}",
        "Access-Control-Allow-Origin": "*",
    }
    wanted = request.headers.get("If-None-Match", "")
    if any(tag.strip().removeprefix("W/") == etag for tag in wanted.split(",")):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def atom_feed(
    entries: list[Published], *, config: CapConfig, title: str, self_url: str, base_url: str, now: datetime
) -> bytes:
    """The Atom document of ``entries`` (already filtered and ordered)."""
    feed = Element("feed", {"xmlns": ATOM_NS, "xmlns:cap": CAP_NS})

    def add(parent: Element, tag: str, text: str, **attrs: str) -> Element:
        child = SubElement(parent, tag, attrs)
        if text:
            child.text = text
        return child

    add(feed, "id", self_url)
    add(feed, "title", title)
    newest = entries[0].message.sent if entries else now
    add(feed, "updated", cap_time(newest))
    add(feed, "link", "", rel="self", href=self_url, type="application/atom+xml")
    author = add(feed, "author", "")
    add(author, "name", config.sender_name or "crisiscast")
    for item in entries:
        m = item.message
        url = f"{base_url}/cap/{m.identifier}.xml"
        entry = add(feed, "entry", "")
        add(entry, "id", url)
        add(entry, "title", m.headline)
        add(entry, "updated", cap_time(m.sent))
        add(entry, "published", cap_time(m.sent))
        add(entry, "summary", m.instruction or m.description or m.headline)
        add(entry, "link", "", rel="alternate", type="application/cap+xml", href=url)
        add(entry, "cap:status", m.status.value)
        add(entry, "cap:msgType", m.msg_type.value)
        add(entry, "cap:severity", m.severity.value)
        if m.expires is not None:
            add(entry, "cap:expires", cap_time(m.expires))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(feed, encoding="unicode")).encode()


def _base_url(request: web.Request, public_url: str | None) -> str:
    return (public_url or str(request.url.origin())).rstrip("/")


def add_cap_routes(app: web.Application, deps: RouteDeps) -> RouteHooks:
    """Add the feeds and the documents to ``app``."""
    config = SPEC.config(deps.settings)
    public_url = deps.settings.server.public_url

    def feed_handler(feed: str, path: str, title: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            now = datetime.now(UTC)
            entries = current_entries(await published(deps.store), feed, now=now, limit=config.max_entries)
            base = _base_url(request, public_url)
            body = atom_feed(
                entries, config=config, title=title, self_url=base + path, base_url=base, now=now
            )
            return _respond(request, body, "application/atom+xml", config.feed_max_age_s)

        return handler

    async def document(request: web.Request) -> web.Response:
        identifier = request.match_info["identifier"]
        for item in await published(deps.store):
            if item.message.identifier == identifier:
                return _respond(request, item.document.encode(), "application/cap+xml", DOCUMENT_MAX_AGE_S)
        raise web.HTTPNotFound(text=f"No alert {identifier[:80]} has been published on a CAP feed.")

    links: list[tuple[str, str]] = []
    feeds: Mapping[str, tuple[str | None, str]] = {
        ACTUAL_FEED: (config.feed_path, config.feed_title),
        EXERCISE_FEED: (config.exercise_feed_path, f"{config.feed_title} (exercises)"),
    }
    for feed, (path, title) in feeds.items():
        if path:
            app.router.add_get(path, feed_handler(feed, path, title))
            links.append((f"CAP feed ({feed})", path))
    app.router.add_get("/cap/{identifier}.xml", document)
    return RouteHooks(links=tuple(links))
