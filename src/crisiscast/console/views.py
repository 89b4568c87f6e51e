"""Rendering: the Jinja2 environment (autoescaped), and the board a dispatch page shows.

Every page is rendered from ``templates/`` with ``render(request, name, **values)``; user text
(headlines, names, reasons) is always escaped by the environment's autoescape, never marked
safe. The board (``board_of``) counts each channel's deliveries the way a commander reads
them: planned, delivered, failed (with the reasons), retrying (pending after an attempt),
waiting (pending, not tried yet), in doubt, cancelled, skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import jinja2
from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.channels.registry import title_of
from crisiscast.console.i18n import LANG_COOKIE, TEXT, pick_language
from crisiscast.console.session import Session, set_cookie
from crisiscast.delivery import DeliveryState
from crisiscast.server.status_view import tallied

__all__ = ["Board", "ChannelBoard", "board_of", "render", "render_fragment", "rollcall_of"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("crisiscast.console", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["title_of"] = title_of
_REASONS_SHOWN = 5  # per channel, the most frequent first


@dataclass(slots=True)
class ChannelBoard:
    name: str
    title: str
    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """Delivered (or deliberately skipped) out of planned, in whole percent."""
        planned = self.counts.get("planned", 0)
        done = self.counts.get("delivered", 0) + self.counts.get("skipped", 0)
        return 100 if planned == 0 else int(100 * done / planned)


@dataclass(slots=True)
class Board:
    dispatch_id: str
    state: str
    channels: list[ChannelBoard]

    @property
    def percent(self) -> int:
        planned = sum(c.counts.get("planned", 0) for c in self.channels)
        done = sum(c.counts.get("delivered", 0) + c.counts.get("skipped", 0) for c in self.channels)
        if planned == 0:  # nothing planned yet (0 %), or a dispatch that had nothing to send
            return 100 if self.finished else 0
        return int(100 * done / planned)

    @property
    def finished(self) -> bool:
        return self.state not in ("dispatching", "awaiting_approval")


async def board_of(store: AuditStore, dispatch_id: str) -> Board | None:
    """The board of ``dispatch_id``, or None when it does not exist.

    Counted in the database (``AuditStore.delivery_tally``), so a board stays a small read
    while the server sends a whole-system alert: it is read again every ``BOARD_POLL_S`` for
    every open board (reading every delivery record instead cost about 8 s of CPU per read at
    100,000 recipients).
    """
    record = await store.dispatch(dispatch_id)
    if record is None:
        return None
    tally = await store.delivery_tally(dispatch_id, reasons=True)
    _, state = tallied(record, tally)
    by_channel: dict[str, ChannelBoard] = {}
    for name, delivery_state, attempted, n in tally.states:
        board = by_channel.setdefault(name, ChannelBoard(name, title_of(name)))
        counts = board.counts
        counts["planned"] = counts.get("planned", 0) + n
        key = delivery_state
        if delivery_state == DeliveryState.PENDING:
            key = "retrying" if attempted else "waiting"
        counts[key] = counts.get(key, 0) + n
    reasons: dict[str, list[tuple[str, int]]] = {}
    for name, why, n in tally.reasons:
        reasons.setdefault(name, []).append((why, n))
    for name, found in reasons.items():
        if name in by_channel:
            by_channel[name].reasons = sorted(found, key=lambda r: (-r[1], r[0]))[:_REASONS_SHOWN]
    return Board(dispatch_id, state, [by_channel[n] for n in sorted(by_channel)])


async def rollcall_of(store: AuditStore, dispatch_id: str) -> dict[str, object] | None:
    """The roll-call of a dispatch whose message has a poll (with names: a signed-in person), else None."""
    record = await store.dispatch(dispatch_id)
    if record is None or not record.message.get("poll"):
        return None
    from crisiscast.rollcall.view import build_rollcall

    found = await build_rollcall(store, dispatch_id)
    return found.to_json(with_people=True) if found is not None else None


class _PageContext(TypedDict):
    """What every console template is given: its words, language, the signed-in person, the path."""

    t: dict[str, str]
    lang: str
    me: Session | None
    path: str


def _base(request: web.Request, session: Session | None) -> _PageContext:
    lang = pick_language(request)
    return {"t": TEXT[lang], "lang": lang, "me": session, "path": request.path}


def render_fragment(request: web.Request, name: str, session: Session | None, **values: Any) -> str:
    """A template rendered to a string (the board for server-sent events)."""
    return _ENV.get_template(name).render(**_base(request, session), **values)


def render(
    request: web.Request, name: str, session: Session | None, *, status: int = 200, **values: Any
) -> web.Response:
    """A full page for ``session`` (None: signed out); remembers a ``?lang=`` choice in a cookie."""
    response = web.Response(
        text=render_fragment(request, name, session, **values),
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
    if request.query.get("lang") in TEXT:
        set_cookie(response, request, LANG_COOKIE, request.query["lang"])
    return response
