"""Console sessions: who is signed in, kept in this process, behind an unguessable cookie.

A person signs in with their own API token (``name=token`` in ``CRISISCAST_API_TOKENS``,
checked by ``crisiscast.server.auth``); a machine token (no name) may not sign in. The
session id is 256 random bits; only its SHA-256 is kept as the key, with the person's name,
the session's CSRF token and its expiry. A session ends at sign-out, after ``ttl_s`` (8 h by
default) or ``idle_s`` (30 min by default) without a request, and when the server restarts
(sign in again: the token is all one needs).

The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/console`` and ``Secure`` unless the
console is reached on localhost (plain HTTP there is only possible on this machine).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

__all__ = ["COOKIE", "Session", "SessionStore", "is_local", "set_cookie"]

COOKIE = "crisiscast_console"
TTL_S = 8 * 3600.0
IDLE_S = 30 * 60.0
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


@dataclass(slots=True)
class Session:
    """One signed-in person."""

    name: str
    csrf: str
    started_at_s: float
    seen_at_s: float


class SessionStore:
    """Sessions by the SHA-256 of their cookie value; ``now`` is the clock (seconds)."""

    def __init__(
        self, *, ttl_s: float = TTL_S, idle_s: float = IDLE_S, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.idle_s = idle_s
        self.now = now
        self._sessions: dict[str, Session] = {}

    @staticmethod
    def _key(cookie: str) -> str:
        return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()

    def start(self, name: str) -> tuple[str, Session]:
        """A new session for ``name``: (the cookie value, the session)."""
        self._drop_expired()
        cookie = secrets.token_urlsafe(32)
        at = self.now()
        session = Session(name=name, csrf=secrets.token_urlsafe(32), started_at_s=at, seen_at_s=at)
        self._sessions[self._key(cookie)] = session
        return cookie, session

    def get(self, cookie: str | None) -> Session | None:
        """The live session the cookie names (its idle clock restarted), else None."""
        if not cookie:
            return None
        key = self._key(cookie)
        session = self._sessions.get(key)
        if session is None:
            return None
        at = self.now()
        if at - session.started_at_s > self.ttl_s or at - session.seen_at_s > self.idle_s:
            del self._sessions[key]
            return None
        session.seen_at_s = at
        return session

    def end(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(self._key(cookie), None)

    def _drop_expired(self) -> None:
        at = self.now()
        for key, s in list(self._sessions.items()):
            if at - s.started_at_s > self.ttl_s or at - s.seen_at_s > self.idle_s:
                del self._sessions[key]


def is_local(request: web.Request) -> bool:
    """True when the console is reached as localhost (the only place a cookie may be non-Secure)."""
    host = (request.host or "").lower()
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in _LOCAL_HOSTS


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    """Set a console cookie with the flags every console cookie has."""
    response.set_cookie(
        name, value, path="/console", httponly=True, samesite="Strict", secure=not is_local(request)
    )
