"""Refused requests: every one is logged (peer and reason, never a credential), and a peer
that keeps failing authentication is slowed down.

``log_refusal`` writes one ``request_refused`` warning per refused webhook or failed
authentication: the peer address, the method and path, the status answered and the plain
reason. Credentials never reach it: reasons are our own sentences, and headers are not logged.

``FailedAuth`` counts failed authentications (a wrong or missing API token, a webhook whose
signature does not verify) per peer address in a sliding window. A peer with
``max_failures`` failures in the last ``window_s`` seconds gets ``429 Too Many Requests`` with
``Retry-After`` instead of another answer to a guess, until its oldest failure leaves the
window. A request carrying a valid credential is never refused by it, so a reverse proxy that
makes every client appear to come from one address cannot be used to lock real callers out
(limit per client at the proxy; README, "Security notes").
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import structlog
from aiohttp import web

__all__ = ["FailedAuth", "auth_failed", "log_refusal"]

log = structlog.get_logger(__name__)

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW_S = 60.0
_MAX_PEERS = 10_000  # bound the memory a flood of addresses can take


def log_refusal(request: web.Request, status: int, reason: str) -> None:
    """One ``request_refused`` warning: peer, method, path, status and reason."""
    log.warning(
        "request_refused",
        peer=request.remote or "unknown",
        method=request.method,
        path=request.path,
        status=status,
        reason=reason,
    )


class FailedAuth:
    """Failed authentications per peer in a sliding window (see the module docstring)."""

    def __init__(
        self,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, peer: str) -> deque[float]:
        times = self._failures.get(peer)
        if times is None:
            return deque()
        cutoff = self._clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[peer]
        return times

    def retry_after_s(self, peer: str) -> int | None:
        """Seconds until ``peer`` may try again, or None when it is not limited now."""
        times = self._recent(peer)
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[0] + self.window_s - self._clock()))

    def failed(self, peer: str) -> None:
        """Count one failed authentication of ``peer``."""
        if peer not in self._failures and len(self._failures) >= _MAX_PEERS:
            self._failures.pop(next(iter(self._failures)))  # forget the longest-known peer
        times = self._failures.setdefault(peer, deque())
        times.append(self._clock())
        while len(times) > self.max_failures:
            times.popleft()


def auth_failed(request: web.Request, failures: FailedAuth, reason: str) -> int | None:
    """Record and log one failed authentication; returns ``Retry-After`` seconds when the peer is
    over the limit (answer 429), else None (answer 401)."""
    peer = request.remote or "unknown"
    retry_after_s = failures.retry_after_s(peer)
    if retry_after_s is not None:
        log_refusal(request, 429, f"{reason}; too many failed authentications from this peer")
        return retry_after_s
    failures.failed(peer)
    log_refusal(request, 401, reason)
    return None


TOO_MANY = "Too many failed authentications from this address; wait and try again with a valid credential."
