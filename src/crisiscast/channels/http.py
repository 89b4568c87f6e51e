"""Shared aiohttp plumbing for HTTP channels: one session per channel, one request per attempt.

The one question an HTTP failure must answer is *did the request leave?*

- It did not (DNS failure, connection refused, connect timeout, bad URL) → ``Transient``
  (or ``Permanent`` for a URL that can never work): re-sending cannot duplicate anything.
- It did (timeout or disconnect after the request headers were written, a broken response)
  → ``Ambiguous``: the provider may have accepted it, so the dispatcher reconciles first.

Sessions made by ``client_session`` carry a trace hook that records the moment the request
headers are written, so the answer is exact. For a session made elsewhere (a third-party
SDK's) the exception type decides: only connect errors count as "not sent".

Error texts name the provider and the reason, never a URL query, a header or a body, so
they can never carry a secret. Exception chains are cut (``from None``) for the same reason.
"""

from __future__ import annotations

import json as jsonlib
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from crisiscast.channels.session_pool import pool_for_running_loop
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, Transient

__all__ = [
    "HttpResponse",
    "SessionHolder",
    "client_session",
    "request",
    "translate_exception",
]

USER_AGENT = "crisiscast/0.1"


class _SendMarker:
    """Per-request trace context: ``traced`` once our hook saw the request, ``sent`` once written."""

    __slots__ = ("sent", "traced")

    def __init__(self) -> None:
        self.traced = False
        self.sent = False


async def _on_start(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: object) -> None:
    marker = getattr(ctx, "trace_request_ctx", None)
    if isinstance(marker, _SendMarker):
        marker.traced = True


async def _on_headers_sent(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: object) -> None:
    marker = getattr(ctx, "trace_request_ctx", None)
    if isinstance(marker, _SendMarker):
        marker.sent = True


def client_session(*, timeout_s: float, connect_timeout_s: float | None = None) -> aiohttp.ClientSession:
    """A session whose requests are bounded by ``timeout_s`` and traced for "was it sent?".

    Must be called inside a running event loop (``Channel.start`` or the first ``send``).
    """
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_on_start)
    trace.on_request_headers_sent.append(_on_headers_sent)
    timeout = aiohttp.ClientTimeout(
        total=timeout_s, connect=connect_timeout_s if connect_timeout_s is not None else min(timeout_s, 5.0)
    )
    return aiohttp.ClientSession(timeout=timeout, trace_configs=[trace], headers={"User-Agent": USER_AGENT})


class SessionHolder:
    """Lazily creates one traced session and closes it; ``aclose`` is safe to call twice.

    With a ``pool_key`` (the channel's name) and a pool installed for the running loop
    (``crisiscast.channels.session_pool``: ``crisiscast serve``), the session is the pool's,
    shared with later dispatches of the same channel, and ``aclose`` leaves it open."""

    def __init__(
        self, *, timeout_s: float, connect_timeout_s: float | None = None, pool_key: str | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.pool_key = pool_key
        self._session: aiohttp.ClientSession | None = None
        self._pooled = False

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            pool = pool_for_running_loop() if self.pool_key is not None else None
            if pool is not None and self.pool_key is not None:
                key = (self.pool_key, self.timeout_s, self.connect_timeout_s)
                self._session, self._pooled = pool.get(key, self._make), True
            else:
                self._session, self._pooled = self._make(), False
        return self._session

    def _make(self) -> aiohttp.ClientSession:
        return client_session(timeout_s=self.timeout_s, connect_timeout_s=self.connect_timeout_s)

    async def aclose(self) -> None:
        if self._session is not None and not self._pooled:
            await self._session.close()
        self._session = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response: status, case-insensitive headers and the raw body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            return None


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    provider: str,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: Any = None,
    params: dict[str, str] | None = None,
) -> HttpResponse:
    """Make exactly one request and read the whole response (no redirects followed).

    Any HTTP status is returned, not raised: the caller classifies it. Network failures are
    raised as ``Transient`` (not sent), ``Ambiguous`` (sent, answer lost) or ``Permanent``
    (an invalid URL). ``provider`` names the service in error texts ("the X API"). A
    ``yarl.URL(..., encoded=True)`` is sent exactly as written (a query that must stay %-encoded).
    """
    marker = _SendMarker()
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            json=json,
            data=data,
            params=params,
            allow_redirects=False,
            trace_request_ctx=marker,
        ) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, CIMultiDictProxy(CIMultiDict(resp.headers)), body)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise translate_exception(
            exc, provider=provider, sent=marker.sent if marker.traced else None
        ) from None


def translate_exception(exc: BaseException, *, provider: str, sent: bool | None) -> DeliveryError:
    """Map an aiohttp/network exception to a classified error.

    ``sent`` True/False when known (a traced session); None lets the exception type decide:
    connect errors were not sent, everything else may have been.
    """
    if isinstance(exc, aiohttp.InvalidURL):
        return Permanent(
            f"The {provider} address is not a valid URL; fix it in the configuration.", code="invalid_url"
        )
    not_sent_types = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
    if sent is False or (sent is None and isinstance(exc, not_sent_types)):
        if isinstance(exc, TimeoutError):
            return Transient(f"Connecting to {provider} timed out; nothing was sent.", code="connect_timeout")
        why = _os_reason(exc)
        return Transient(f"Could not connect to {provider} ({why}); nothing was sent.", code="connect_error")
    if isinstance(exc, TimeoutError):
        return Ambiguous(
            f"{provider[0].upper()}{provider[1:]} did not answer in time after the request was sent; "
            "it may have been accepted.",
            code="timeout",
        )
    return Ambiguous(
        f"The connection to {provider} broke after the request was sent ({_short_name(exc)}); "
        "it may have been accepted.",
        code="disconnected",
    )


def _os_reason(exc: BaseException) -> str:
    os_error = getattr(exc, "os_error", None) or exc
    errno = getattr(os_error, "errno", None)
    return os.strerror(errno).lower() if isinstance(errno, int) else _short_name(exc)


def _short_name(exc: BaseException) -> str:
    """A readable name of the failure, e.g. "server disconnected" (never the exception's text)."""
    name = type(exc).__name__
    words = "".join(" " + c.lower() if c.isupper() else c for c in name).strip()
    return words.removesuffix(" error") or "network error"
