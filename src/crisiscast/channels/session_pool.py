"""Warm HTTP sessions kept across dispatches by a long-running process (``crisiscast serve``).

A command (``crisiscast send``) builds its channels once and closes their sessions when it
ends. ``serve`` builds the channels again for every dispatch; without this pool each dispatch
would open new connections to every provider (a TCP and a TLS handshake each: tens to hundreds
of milliseconds before the first text leaves, and a hundred of them at once for the texts).

While a pool is installed for the running event loop (``install``/``uninstall``, refcounted:
the app's start-up and clean-up), ``crisiscast.channels.http.SessionHolder`` objects made with
a ``pool_key`` take their session from it — one per key and timeouts — and leave it open when
their channel is closed; the pool closes them when the last holder of the pool uninstalls it.
Keep-alive connections then carry over from one dispatch to the next. Nothing else changes: the
per-request "was it sent?" tracing, the timeouts and the connector's limits are those of a
session made by ``client_session``, and a request on a connection the provider had closed is
classified exactly as before (``crisiscast.channels.http``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

__all__ = ["SessionPool", "install", "pool_for_running_loop", "uninstall"]

SessionKey = tuple[str, float, float | None]
"""``(pool_key, timeout_s, connect_timeout_s)``."""


class SessionPool:
    """The shared sessions of one event loop, by key; ``users`` counts who installed it."""

    def __init__(self) -> None:
        self.users = 0
        self._sessions: dict[SessionKey, aiohttp.ClientSession] = {}

    def get(self, key: SessionKey, make: Callable[[], aiohttp.ClientSession]) -> aiohttp.ClientSession:
        """The open session for ``key``, made with ``make`` the first time (or after it closed)."""
        session = self._sessions.get(key)
        if session is None or session.closed:
            session = self._sessions[key] = make()
        return session

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


_POOLS: dict[asyncio.AbstractEventLoop, SessionPool] = {}


def install() -> SessionPool:
    """Share sessions on the running loop until the matching ``uninstall``."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.setdefault(loop, SessionPool())
    pool.users += 1
    return pool


async def uninstall() -> None:
    """Undo one ``install``; the last one closes every shared session of the loop."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        return
    pool.users -= 1
    if pool.users <= 0:
        del _POOLS[loop]
        await pool.aclose()


def pool_for_running_loop() -> SessionPool | None:
    """The pool installed for the running loop, if any (None outside a loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _POOLS.get(loop)
