"""The retry schedule, with an injected clock and sleep: nothing here sleeps for real."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from crisiscast.dispatch.retry import DeadlineStop, RetryPolicy
from crisiscast.errors import Ambiguous, Permanent, RateLimited, Transient


class FakeTime:
    """A clock that only moves when the retry stage sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay_s: float) -> None:
        self.sleeps.append(delay_s)
        self.now += delay_s


class Script:
    """An attempt function that raises the scripted errors, then returns "ok"; logs call times."""

    def __init__(self, t: FakeTime, *errors: BaseException) -> None:
        self.t = t
        self.errors = list(errors)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(self.t.now)
        if self.errors:
            raise self.errors.pop(0) if len(self.errors) > 1 else self.errors[0]
        return "ok"


async def test_transient_then_success() -> None:
    """Two transient errors then success: three calls, two back-off waits, the result returned."""
    t = FakeTime()
    policy = RetryPolicy(max_attempts=5, deadline_s=60, base_s=1, cap_s=30)
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise Transient("busy")
        return "ok"

    result: str = await policy.retrying(deadline_at=t.now + 60, clock=t.clock, sleep=t.sleep)(attempt)
    assert result == "ok"
    assert calls == 3 and len(t.sleeps) == 2
    assert all(0 <= s <= 2 for s in t.sleeps)  # full jitter within base·2^(n-1)


async def test_permanent_is_attempted_exactly_once() -> None:
    """A Permanent error is raised after one attempt, with no wait."""
    t = FakeTime()
    fn = Script(t, Permanent("bad request", code="http_400"))
    with pytest.raises(Permanent):
        await RetryPolicy().retrying(deadline_at=t.now + 60, clock=t.clock, sleep=t.sleep)(fn)
    assert len(fn.calls) == 1 and t.sleeps == []


async def test_ambiguous_and_other_exceptions_are_not_retried() -> None:
    """Only Transient is retried: Ambiguous and a plain bug propagate after one attempt."""
    for exc in (Ambiguous("timeout after send"), RuntimeError("bug")):
        t = FakeTime()
        fn = Script(t, exc)
        with pytest.raises(type(exc)):
            await RetryPolicy().retrying(deadline_at=t.now + 60, clock=t.clock, sleep=t.sleep)(fn)
        assert len(fn.calls) == 1


async def test_cancellation_is_never_retried() -> None:
    """asyncio.CancelledError raised by an attempt propagates at once."""
    t = FakeTime()
    fn = Script(t, asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await RetryPolicy().retrying(deadline_at=t.now + 60, clock=t.clock, sleep=t.sleep)(fn)
    assert len(fn.calls) == 1


async def test_retry_after_is_a_floor() -> None:
    """RateLimited(retry_after_s=7): the wait is at least 7 s (plus at most one jitter envelope)."""
    t = FakeTime()
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RateLimited("slow down", retry_after_s=7.0)
        return "ok"

    policy = RetryPolicy(base_s=1, cap_s=30)
    assert await policy.retrying(deadline_at=t.now + 60, clock=t.clock, sleep=t.sleep)(attempt) == "ok"
    assert 7.0 <= t.sleeps[0] <= 8.0


async def test_attempts_bound() -> None:
    """An always-transient target gets exactly max_attempts attempts; the last error is re-raised."""
    t = FakeTime()
    fn = Script(t, Transient("busy", code="http_503"))
    retrying = RetryPolicy(max_attempts=4).retrying(deadline_at=t.now + 3600, clock=t.clock, sleep=t.sleep)
    with pytest.raises(Transient) as info:
        await retrying(fn)
    assert info.value.code == "http_503"
    assert len(fn.calls) == 4
    assert isinstance(retrying.stop, DeadlineStop) and retrying.stop.reason == "attempts"


async def test_no_attempt_starts_after_the_deadline() -> None:
    """With a 10 s deadline and Retry-After 4 s, attempts start at 0, ≥4, ≥8 s — never at/after 10 s."""
    t = FakeTime()
    start = t.now
    fn = Script(t, Transient("busy", retry_after_s=4.0))
    retrying = RetryPolicy(max_attempts=100, base_s=0.5).retrying(
        deadline_at=start + 10, clock=t.clock, sleep=t.sleep
    )
    with pytest.raises(Transient):
        await retrying(fn)
    assert all(at < start + 10 for at in fn.calls)
    assert 2 <= len(fn.calls) <= 3
    assert isinstance(retrying.stop, DeadlineStop) and retrying.stop.reason == "deadline"


async def test_expiry_is_reported_as_the_stopping_bound() -> None:
    """When the message expires before the channel deadline, the stop reason is 'expired'."""
    t = FakeTime()
    fn = Script(t, Transient("busy", retry_after_s=2.0))
    retrying = RetryPolicy(max_attempts=100).retrying(
        deadline_at=t.now + 300, expires_at=t.now + 5, clock=t.clock, sleep=t.sleep
    )
    with pytest.raises(Transient):
        await retrying(fn)
    assert all(at < 105 for at in fn.calls)
    assert isinstance(retrying.stop, DeadlineStop) and retrying.stop.reason == "expired"


def test_first_retries_are_spread_by_jitter() -> None:
    """1,000 deliveries failing at once: no 100 ms bucket holds more than 15 % of their first retries."""
    rng = random.Random(1234)
    policy = RetryPolicy(base_s=1.0)
    waits = [policy.backoff_s(1, None, rng.random) for _ in range(1000)]
    buckets = Counter(int(w * 10) for w in waits)
    assert max(buckets.values()) <= 150
    assert all(0 <= w <= 1.0 for w in waits)


def test_backoff_envelope_is_capped() -> None:
    """The jitter envelope doubles per attempt up to cap_s, and never overflows on huge attempt numbers."""
    policy = RetryPolicy(base_s=1.0, cap_s=30.0)
    assert policy.backoff_s(3, None, lambda: 1.0) == 4.0
    assert policy.backoff_s(10, None, lambda: 1.0) == 30.0
    assert policy.backoff_s(10_000, None, lambda: 0.5) == 15.0


async def test_each_delivery_gets_its_own_retrying() -> None:
    """retrying() returns a new AsyncRetrying each time (tenacity keeps per-call state on it)."""
    policy = RetryPolicy()
    assert policy.retrying(deadline_at=1.0) is not policy.retrying(deadline_at=1.0)
