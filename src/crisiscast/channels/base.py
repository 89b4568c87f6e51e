"""The channel contract: declared limits, a pure ``render`` and a one-attempt ``send``.

A channel never sleeps, throttles or retries: the dispatcher owns concurrency, rate limits
and the retry stage. ``send`` makes exactly ONE attempt and either returns a ``Receipt`` or
raises a classified ``DeliveryError`` (``Transient``/``RateLimited``/``Permanent``/
``Ambiguous``). Third-party exceptions are translated inside each channel module, at one
boundary, and a test pins that map.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol, runtime_checkable

from crisiscast.config import (
    DEFAULT_BURST,
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_CONCURRENCY,
    ChannelSection,
    PolicyConfig,
)
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    ConfigError,
    DeliveryError,
    Permanent,
    RateLimited,
    Transient,
)
from crisiscast.message import CrisisMessage

__all__ = [
    "BaseChannel",
    "Channel",
    "ChannelLimits",
    "ChannelUnavailable",
    "RenderContext",
    "classify_http_status",
    "lookup_failure",
    "parse_retry_after_s",
]


class ChannelUnavailable(ConfigError):
    """A channel cannot serve this message: disabled, a secret missing, or no exercise target.

    ``str(err)`` is the plain reason, recorded in the audit as the channel's skip reason.
    """


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a channel (and the provider account behind it) allows, as data.

    ``max_requests_per_s`` None means unlimited; ``burst`` is how many requests may go at
    once above the steady rate. ``deadline_s`` bounds the retry stage of one delivery when
    the message has no earlier expiry. The defaults are the configuration's
    (``crisiscast.config.DEFAULT_*``); a channel's own text limits live in its adaptation.
    """

    max_requests_per_s: float | None = None
    burst: int = DEFAULT_BURST
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline_s: float = DEFAULT_DEADLINE_S

    @classmethod
    def from_config(cls, cfg: ChannelSection) -> ChannelLimits:
        """The limits a channel's configuration section declares."""
        return cls(
            max_requests_per_s=cfg.max_requests_per_s,
            burst=cfg.burst,
            max_concurrency=cfg.max_concurrency,
            max_attempts=cfg.max_attempts,
            deadline_s=cfg.deadline_s,
        )


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What ``render`` may know beyond the message; all plain data, no I/O.

    ``reply_to`` maps a channel name (or ``channel:target`` for one target, e.g. the Spanish
    X thread ``twitter:es``) to the provider id to continue from (an Update replies in the
    original's X thread). ``only_targets`` restricts a channel's targets (an Update or
    all-clear reaches exactly the recipients the original reached); None means no limit.
    """

    dispatch_id: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    reply_to: Mapping[str, str] = field(default_factory=dict)
    only_targets: Mapping[str, frozenset[str]] | None = None
    phi_override: str | None = None  # the operator's recorded reason to allow PHI-like text


@runtime_checkable
class Channel(Protocol):
    """What the dispatcher needs of a channel."""

    account: str  # the provider account; rate limits are shared per account across dispatches
    limits: ChannelLimits
    policy: PolicyConfig  # the PHI guard's extra patterns, the exercise marker

    # Read-only, so that a class attribute (``BaseChannel``'s ClassVar) satisfies them.
    @property
    def name(self) -> str: ...

    @property
    def public(self) -> bool:  # public channels are guarded against patient information
        ...

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """Adapt the message into deliveries. Pure and deterministic; raises ``PolicyError``."""
        ...

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Make exactly one attempt; return the receipt or raise a ``DeliveryError``."""
        ...

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Ask the provider whether an in-doubt delivery arrived (None: it did not).

        Raises ``CannotReconcile`` when the provider offers no way to ask (no lookup API,
        credentials refused): the in-doubt policy decides. Raises ``Transient`` when asking
        failed this time (5xx, throttled, timeout): the dispatcher asks again after a back-off.
        """
        ...

    async def start(self) -> None:
        """Open connections (HTTP session, broker); called once before any send."""
        ...

    async def aclose(self) -> None:
        """Release connections; safe to call twice."""
        ...


class BaseChannel:
    """Convenience base: no-op lifecycle and no reconciliation."""

    name: ClassVar[str] = "base"
    public: ClassVar[bool] = True
    account: str = "base"
    limits: ChannelLimits = ChannelLimits()
    policy: PolicyConfig = PolicyConfig()

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        raise CannotReconcile(f"{self.name} cannot be asked whether a delivery arrived")

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def parse_retry_after_s(value: str | None, *, now_s: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):  # not delta-seconds: maybe an HTTP date
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


def classify_http_status(
    status: int,
    reason: str,
    *,
    code: str | None = None,
    retry_after_s: float | None = None,
    ambiguous_5xx: bool = False,
) -> DeliveryError:
    """The default map from an HTTP error status to a classified error.

    429 → ``RateLimited``; 408 and 5xx → ``Transient`` (``Ambiguous`` for providers that
    document duplicate risk on 5xx, ``ambiguous_5xx``); every other 4xx → ``Permanent``.
    """
    code = code or f"http_{status}"
    if status == 429:
        return RateLimited(reason, code=code, status=status, retry_after_s=retry_after_s)
    if status == 408 or status >= 500:
        if ambiguous_5xx and status >= 500:
            return Ambiguous(reason, code=code, status=status)
        return Transient(reason, code=code, status=status, retry_after_s=retry_after_s)
    return Permanent(reason, code=code, status=status)


def lookup_failure(reason: str, exc: DeliveryError) -> CannotReconcile | Transient:
    """What a failed ``reconcile`` look-up raises, from the request's classified error.

    Refused for good (``Permanent``: credentials, permissions) → ``CannotReconcile``, the
    in-doubt policy decides; throttled (``RateLimited``) → ``RateLimited`` with the provider's
    wait, so the dispatcher pauses the account; anything else → ``Transient``, asked again later.
    """
    if isinstance(exc, Permanent):
        return CannotReconcile(reason)
    if isinstance(exc, RateLimited):
        return RateLimited(reason, code=exc.code, status=exc.status, retry_after_s=exc.retry_after_s)
    return Transient(reason, code=exc.code, status=exc.status)
