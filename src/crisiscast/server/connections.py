"""Slow and idle clients cannot hold the server's connections: read deadlines and a cap.

aiohttp's server has no read deadline of its own: a client that sends one byte of a request
head now and then, or that connects and never sends anything, keeps its connection for an
hour. ``ConnectionGuard`` adds, for every connection of one listening site:

- ``header_timeout_s``: the complete head of a request must arrive within this many seconds of
  the connection opening, or of the previous response (so an idle keep-alive connection is
  closed after the same time). Otherwise the connection is closed.
- ``body_timeout_s``: once a request's head is read, its whole body (at most
  ``body_max_bytes``) must arrive within this many seconds; otherwise the answer is ``408``
  and the connection is closed. Handlers then read a body that is already in memory.
- ``max_connections``: connections beyond this many at once are answered ``503`` with
  ``Connection: close`` and closed before any byte of theirs is read.

It wraps the protocol of each accepted connection (``GuardedSite`` replaces aiohttp's
``TCPSite``) and adds one middleware (``install``). A reverse proxy in front of crisiscast
should still enforce its own, tighter limits (README, "Security notes").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import structlog
from aiohttp import web

from crisiscast.server.context import error_response

__all__ = ["ConnectionGuard", "ConnectionLimits", "GuardedSite", "install", "runner_options"]

log = structlog.get_logger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n"
    b'Content-Length: 58\r\n\r\n{"error": "Too many connections; try again in a moment."}\n'
)
_GUARD = web.AppKey("crisiscast_connection_guard", object)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Read deadlines (seconds) and the cap on connections open at once."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 512
    body_max_bytes: int = 65536


class _Connection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol, behind the header deadline and the cap."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # uvloop's transports (crisiscast's default loop) implement asyncio.Transport without
        # subclassing it, so no isinstance check here
        transport = cast("asyncio.Transport", base)
        self._transport = transport
        if len(self._guard.open) >= self._guard.limits.max_connections:
            self._refused = True
            self._guard.refused += 1
            log.warning("connection_refused", reason="max_connections", peer=_peer(transport))
            transport.write(_BUSY)
            transport.close()
            return
        self._guard.open[transport] = self
        self.arm()
        self._inner.connection_made(transport)

    def arm(self) -> None:
        """Start the header deadline (at connect, and after each response)."""
        self.disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.limits.header_timeout_s, self._expire)

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            self._guard.timed_out += 1
            log.info("connection_closed", reason="header_timeout", peer=_peer(self._transport))
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self._refused else self._inner.eof_received()

    def pause_writing(self) -> None:
        if not self._refused:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if not self._refused:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self._refused:
            return
        if self._transport is not None:
            self._guard.open.pop(self._transport, None)
        self._inner.connection_lost(exc)


class ConnectionGuard:
    """The limits of one server and the connections it holds now (see the module docstring)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: dict[asyncio.BaseTransport, _Connection] = {}
        self.refused = 0  # connections answered 503 (over the cap)
        self.timed_out = 0  # connections closed by the header deadline

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Connection(self, factory())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self.open.get(request.transport) if request.transport is not None else None
        if conn is not None:
            conn.disarm()  # the head is in; the body has its own deadline
        try:
            if request.body_exists and not _too_large(request, self.limits.body_max_bytes):
                try:
                    async with asyncio.timeout(self.limits.body_timeout_s):
                        await request.content.wait_eof()
                except TimeoutError:
                    log.info("request_refused", reason="body_timeout", peer=request.remote)
                    return error_response(
                        408, "The request body did not arrive in time; send it again.", Connection="close"
                    )
            return await handler(request)
        finally:
            if conn is not None:
                conn.arm()  # until the next request's head (or the connection stays idle)


def _too_large(request: web.Request, max_bytes: int) -> bool:
    """A declared length over the cap: the handler answers 413 without reading the body."""
    return request.content_length is not None and request.content_length > max_bytes


def _peer(transport: asyncio.BaseTransport) -> str:
    peer: Any = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


class GuardedSite(web.TCPSite):
    """aiohttp's ``TCPSite`` whose connections go through ``guard``."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner, host, port)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.wrap(server), self._host, self._port, backlog=self._backlog
        )
        with contextlib.suppress(IndexError, TypeError):
            self._bound_port = self._server.sockets[0].getsockname()[1]


def install(app: web.Application, limits: ConnectionLimits) -> ConnectionGuard:
    """Add the guard's middleware to ``app`` (before it starts); returns the guard for its site.

    Serve with ``GuardedSite`` and the runner options from ``runner_options(limits)``.
    """
    guard = ConnectionGuard(limits)
    app.middlewares.append(guard.middleware)
    app[_GUARD] = guard
    return guard


class RunnerOptions(TypedDict):
    """The ``web.AppRunner`` keyword arguments ``runner_options`` gives."""

    read_bufsize: int
    keepalive_timeout: float


def runner_options(limits: ConnectionLimits) -> RunnerOptions:
    """``web.AppRunner`` options that go with the guard: a read buffer that holds a whole
    allowed body (so waiting for it never stalls on flow control), and aiohttp's own idle
    timeout no longer than the header deadline."""
    return {
        "read_bufsize": max(2**16, limits.body_max_bytes),
        "keepalive_timeout": limits.header_timeout_s,
    }
