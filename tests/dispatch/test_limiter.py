"""The per-account limiter: rate windows, sustained rate, Retry-After pauses, concurrency, cancel.

Rate properties are checked on ``RateSchedule`` (pure arithmetic) by simulation with
hypothesis: no wall clock is involved.
"""

from __future__ import annotations

import asyncio
import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.channels.base import ChannelLimits
from crisiscast.dispatch.cancel import CancelToken
from crisiscast.dispatch.limiter import AccountLimiter, Grant, LimiterRegistry, RateSchedule


def _max_in_window(times: list[float], window_s: float = 1.0) -> int:
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        j = bisect.bisect_left(times, start + window_s - 1e-12)
        best = max(best, j - i)
    return best


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=1, max_value=200),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=400),
)
def test_no_one_second_window_exceeds_rate_plus_burst(rate: float, burst: int, gaps: list[float]) -> None:
    """Whatever the arrival pattern, slots granted in any 1 s window number at most R + burst."""
    schedule = RateSchedule(rate, burst)
    now = 0.0
    slots: list[float] = []
    for gap in gaps:
        now += gap
        slots.append(schedule.reserve(now))
    assert _max_in_window(slots) <= rate + burst


@settings(max_examples=50, deadline=None)
@given(rate=st.floats(min_value=5, max_value=500), burst=st.integers(min_value=1, max_value=50))
def test_a_backlog_drains_at_the_full_rate(rate: float, burst: int) -> None:
    """A backlog of 10·R requests arriving at once is granted at ≥ 0.95 R on average."""
    schedule = RateSchedule(rate, burst)
    n = int(rate * 10)
    slots = [schedule.reserve(0.0) for _ in range(n)]
    assert slots == sorted(slots)
    duration = slots[-1] - slots[0] + 1.0 / rate
    assert n / duration >= 0.95 * rate


@settings(max_examples=100, deadline=None)
@given(
    pause_at=st.floats(min_value=0, max_value=5),
    retry_after_s=st.floats(min_value=0.1, max_value=10),
    burst=st.integers(min_value=1, max_value=10),
)
def test_no_slot_inside_a_retry_after_pause(pause_at: float, retry_after_s: float, burst: int) -> None:
    """After pause(X) at time t, no request is granted in [t, t + X), and the R + burst bound holds.

    Like ``AccountLimiter``, a waiter whose slot was reserved before the pause and falls inside
    it re-reserves when the pause is set (its old slot is never used).
    """
    schedule = RateSchedule(50, burst)
    used: list[float] = []
    now = 0.0
    while now < pause_at:  # arrivals faster than the rate: a backlog builds up
        used.append(schedule.reserve(now))
        now += 0.005
    schedule.pause(pause_at, retry_after_s)
    voided = [slot for slot in used if slot >= pause_at]
    used = [slot for slot in used if slot < pause_at]
    used.extend(schedule.reserve(pause_at) for _ in voided)
    now = pause_at
    while now < pause_at + retry_after_s + 2:
        used.append(schedule.reserve(now))
        now += 0.005
    assert not [slot for slot in used if pause_at <= slot < pause_at + retry_after_s]
    assert _max_in_window(used) <= 50 + burst


async def test_concurrency_cap_is_never_exceeded_and_slots_pass_in_order() -> None:
    """With max_concurrency 3, at most 3 holders at once; waiters get the slot in arrival order."""
    limiter = AccountLimiter("sms:AC1", max_concurrency=3)
    gate = asyncio.Event()
    peak = 0
    order: list[int] = []
    three_in = asyncio.Event()

    async def user(i: int) -> None:
        nonlocal peak
        assert await limiter.acquire()
        order.append(i)
        if len(order) == 3:
            three_in.set()
        peak = max(peak, limiter.in_use)
        await gate.wait()
        limiter.release()

    tasks = [asyncio.create_task(user(i)) for i in range(10)]
    await asyncio.wait_for(three_in.wait(), 5)
    assert len(order) == 3  # the other seven wait for a slot
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert peak == 3 and order == list(range(10)) and limiter.in_use == 0


async def test_cancel_wakes_a_waiter_for_a_slot_and_for_the_rate() -> None:
    """A cancelled token makes acquire return False at once, whether waiting for a slot or the rate;
    no slot leaks."""
    slot_limited = AccountLimiter("a", max_concurrency=1)
    assert await slot_limited.acquire()
    token = CancelToken()
    waiting = asyncio.create_task(slot_limited.acquire(token))
    await asyncio.sleep(0)
    token.cancel("operator cancel")
    assert await asyncio.wait_for(waiting, 5) is Grant.REFUSED
    slot_limited.release()
    assert slot_limited.in_use == 0

    rate_limited = AccountLimiter("b", max_concurrency=10, max_requests_per_s=0.01)  # one per 100 s
    assert await rate_limited.acquire()
    token2 = CancelToken()
    waiting = asyncio.create_task(rate_limited.acquire(token2))
    await asyncio.sleep(0)
    token2.cancel()
    assert await asyncio.wait_for(waiting, 5) is Grant.REFUSED
    assert rate_limited.in_use == 1  # only the first holder


async def test_task_cancellation_while_waiting_leaks_no_slot() -> None:
    """Cancelling the task of a waiter (Ctrl-C) leaves the concurrency count exact."""
    limiter = AccountLimiter("a", max_concurrency=1)
    assert await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    limiter.release()
    assert limiter.in_use == 0
    assert await limiter.acquire()


async def test_pause_holds_requests_until_it_ends() -> None:
    """pause(X): paused_for_s reports the remaining pause; an acquire waits it out (cancellable)."""
    now = [10.0]
    limiter = AccountLimiter("a", max_concurrency=5, clock=lambda: now[0])
    limiter.pause(30.0)
    assert limiter.paused_for_s() == 30.0
    token = CancelToken()
    waiting = asyncio.create_task(limiter.acquire(token))
    await asyncio.sleep(0)
    assert not waiting.done()
    token.cancel()
    assert await asyncio.wait_for(waiting, 5) is Grant.REFUSED
    now[0] = 41.0
    assert limiter.paused_for_s() == 0.0
    assert await limiter.acquire()


def test_registry_shares_one_limiter_per_account() -> None:
    """Two channels (two dispatches) on one provider account share a limiter; other accounts don't."""
    registry = LimiterRegistry()
    limits = ChannelLimits(max_concurrency=7, max_requests_per_s=10, burst=2)
    a = registry.get("sms:AC1", limits)
    assert registry.get("sms:AC1", ChannelLimits()) is a
    assert registry.get("sms:AC2", limits) is not a
    assert a.max_concurrency == 7


def test_a_new_event_loop_does_not_inherit_slots_held_in_a_dead_one() -> None:
    """The process-wide registry outlives event loops (tests, restarts in one process): slots held by
    tasks of a loop that is gone are not owed back to the next loop."""
    limiter = AccountLimiter("a", max_concurrency=1)

    async def hold_forever() -> None:
        assert await limiter.acquire()  # never released: the loop ends with the slot held

    asyncio.run(hold_forever())

    async def acquire_again() -> Grant:
        return await asyncio.wait_for(limiter.acquire(), 5)

    assert asyncio.run(acquire_again()) is Grant.GRANTED


async def test_a_slot_handed_over_just_before_a_cancel_is_not_granted() -> None:
    """The holder releases (the slot passes to the waiter) and the dispatch is cancelled before the
    waiter runs again: acquire still refuses (no request may start after a cancel) and gives the
    slot back."""
    limiter = AccountLimiter("a", max_concurrency=1)
    assert await limiter.acquire()
    token = CancelToken()
    waiting = asyncio.create_task(limiter.acquire(token))
    await asyncio.sleep(0)  # the waiter queues for the slot
    limiter.release()  # hands the slot to the waiter...
    token.cancel("operator cancel")  # ...and the cancel comes before it resumes
    assert await asyncio.wait_for(waiting, 5) is Grant.REFUSED
    assert limiter.in_use == 0
