"""The retry stage: which failures are retried, how long to wait, and when to give up.

``RetryPolicy.retrying(deadline_at=...)`` returns a FRESH tenacity ``AsyncRetrying`` for one
delivery (never shared between coroutines: tenacity keeps per-call state on it).

- Only ``Transient`` (and so ``RateLimited``) is retried. ``Permanent``, ``Ambiguous``, any
  other exception and ``asyncio.CancelledError`` end the call at once and propagate.
- Waits are full jitter (``uniform(0, min(cap_s, base_s·2^(n-1)))``) so a thousand deliveries
  failing together do not retry together. A ``retry_after_s`` on the error is a floor: the
  wait is ``retry_after_s`` plus the jitter.
- Bounded by attempts AND a deadline (a monotonic time: the earlier of the message expiry
  and the channel deadline). No attempt starts at or after the deadline: tenacity gives up
  when the next wait would end there, and ``DeadlineStop.reason`` says which bound stopped it.
  ``attempts`` (optional) counts what the attempt bound applies to, when a round of the retry
  stage is not always a request that could deliver (the dispatcher counts only sends, so a
  provider look-up that failed costs no attempt; the deadline still bounds the look-ups).
- When it gives up, the last error is re-raised (``reraise=True``).

Clock, sleep and randomness are injectable so schedules are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from crisiscast.channels.base import ChannelLimits
from crisiscast.config import DEFAULT_MAX_ATTEMPTS
from crisiscast.errors import Transient

__all__ = ["DeadlineStop", "RetryPolicy", "RetryWait"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one delivery is retried. ``deadline_s`` counts from the delivery's first attempt."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline_s: float = 300.0
    base_s: float = 1.0
    cap_s: float = 30.0

    @classmethod
    def for_limits(cls, limits: ChannelLimits, *, base_s: float = 1.0, cap_s: float = 30.0) -> RetryPolicy:
        """The policy a channel declares (attempts, deadline) with the dispatcher's back-off."""
        return cls(max_attempts=limits.max_attempts, deadline_s=limits.deadline_s, base_s=base_s, cap_s=cap_s)

    def backoff_s(self, attempt: int, retry_after_s: float | None, rng: Callable[[], float]) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        envelope = min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 62))
        jitter = rng() * envelope
        if retry_after_s is not None and retry_after_s > 0:
            return retry_after_s + jitter
        return jitter

    def retrying(
        self,
        *,
        deadline_at: float,
        expires_at: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        attempts: Callable[[], int] | None = None,
    ) -> AsyncRetrying:
        """A fresh ``AsyncRetrying`` for one delivery.

        ``deadline_at`` / ``expires_at`` are ``clock()`` times; ``expires_at`` (the message
        expiry) is reported as reason ``"expired"`` when it is the bound that stopped.
        ``attempts`` counts the attempts ``max_attempts`` bounds (default: every round).
        """
        return AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            wait=RetryWait(self, rng),
            stop=DeadlineStop(self.max_attempts, deadline_at, expires_at, clock, attempts=attempts),
            sleep=sleep,
            reraise=True,
        )


class RetryWait(wait_base):
    """Full-jitter exponential back-off with ``retry_after_s`` as a floor."""

    def __init__(self, policy: RetryPolicy, rng: Callable[[], float]) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after_s = exc.retry_after_s if isinstance(exc, Transient) else None
        return self.policy.backoff_s(retry_state.attempt_number, retry_after_s, self.rng)


class DeadlineStop(stop_base):
    """Stop after ``max_attempts``, or when the next attempt would start at/after the deadline.

    ``attempts`` counts the attempts made so far; by default every round is one.
    """

    def __init__(
        self,
        max_attempts: int,
        deadline_at: float,
        expires_at: float | None,
        clock: Clock,
        *,
        attempts: Callable[[], int] | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.attempts = attempts
        self.deadline_at = deadline_at if expires_at is None else min(deadline_at, expires_at)
        self.expires_at = expires_at
        self.clock = clock
        self.reason = ""  # "attempts", "deadline" or "expired" once it stopped

    def __call__(self, retry_state: RetryCallState) -> bool:
        made = self.attempts() if self.attempts is not None else retry_state.attempt_number
        if made >= self.max_attempts:
            self.reason = "attempts"
            return True
        if self.clock() + retry_state.upcoming_sleep >= self.deadline_at:
            expired = self.expires_at is not None and self.expires_at <= self.deadline_at
            self.reason = "expired" if expired else "deadline"
            return True
        return False
