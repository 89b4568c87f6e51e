"""Per-account limits: a concurrency cap, a token-bucket rate, and Retry-After pauses.

Rate limits belong to the provider ACCOUNT, not to a dispatch: an alert and its update
running at once share one ``AccountLimiter`` (``LimiterRegistry.get(channel.account, ...)``).

- **Concurrency**: at most ``max_concurrency`` requests in flight (FIFO hand-over).
- **Rate**: GCRA, the virtual-scheduling form of a token bucket with rate R
  (``max_requests_per_s``) and depth ``burst``. Any window of W seconds holds at most
  ``burst + W·R`` requests, so a 1 s window never exceeds R + burst, and a backlog drains at
  R. Slots are reserved, so each waiter sleeps exactly once until its own slot: no busy loop,
  no thundering herd. ``headroom`` (default 0.98) runs the bucket slightly under R to absorb
  the few milliseconds between the slot and the request leaving (audit commit, scheduling).
- **Pause**: ``pause(retry_after_s)`` after a 429 with ``Retry-After``: no slot is granted
  before the pause ends, including to waiters that reserved earlier (they re-reserve).
- **Circuit**: ``record_success`` / ``record_failure`` feed a ``Circuit``; while it is open
  only one probe request at a time goes (``Grant.PROBE``), everyone else waits at the gate
  without spending attempts. The gate comes before the concurrency cap, so waiters never
  hold the slots the probe needs.

Every wait is cancellable by a ``CancelToken`` and by task cancellation (nothing leaks),
and bounded by ``until`` (a clock time: the delivery's deadline). ``acquire`` returns
``Grant.REFUSED`` (falsy) when cancelled or out of time. Time is ``time.monotonic`` unless
a clock is injected.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from crisiscast.channels.base import ChannelLimits
from crisiscast.dispatch.cancel import CancelToken
from crisiscast.dispatch.circuit import Circuit

__all__ = ["AccountLimiter", "Grant", "LimiterRegistry", "RateSchedule", "default_registry"]

Clock = Callable[[], float]


class RateSchedule:
    """GCRA slot reservation: pure arithmetic on a clock reading, no I/O, easy to simulate."""

    __slots__ = ("_tat", "interval_s", "paused_until", "tolerance_s")

    def __init__(self, max_requests_per_s: float, burst: int = 1) -> None:
        if max_requests_per_s <= 0:
            raise ValueError("max_requests_per_s must be positive")
        self.interval_s = 1.0 / max_requests_per_s
        self.tolerance_s = max(0, burst - 1) * self.interval_s
        self._tat = -math.inf  # theoretical arrival time of the next request
        self.paused_until = -math.inf

    def reserve(self, now: float) -> float:
        """Reserve the earliest slot at or after ``now``; return its time."""
        slot = max(now, self._tat - self.tolerance_s, self.paused_until)
        self._tat = max(self._tat, slot) + self.interval_s
        return slot

    def pause(self, now: float, retry_after_s: float) -> None:
        """No slot before ``now + retry_after_s`` (pauses never shorten one already set)."""
        self.paused_until = max(self.paused_until, now + max(0.0, retry_after_s))


class Grant(IntEnum):
    """What ``acquire`` gave: nothing (cancelled / out of time), a normal slot, or the probe."""

    REFUSED = 0
    GRANTED = 1
    PROBE = 2


def _resolve(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


class AccountLimiter:
    """Concurrency cap + rate + pause for one provider account; shared by concurrent dispatches."""

    def __init__(
        self,
        account: str,
        *,
        max_concurrency: int,
        max_requests_per_s: float | None = None,
        burst: int = 1,
        headroom: float = 0.98,
        circuit: Circuit | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.account = account
        self.max_concurrency = max_concurrency
        self.max_requests_per_s = max_requests_per_s
        self._clock = clock
        self._rate = RateSchedule(max_requests_per_s * headroom, burst) if max_requests_per_s else None
        self._paused_until = -math.inf
        self._in_use = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self.circuit = circuit if circuit is not None else Circuit()
        self._circuit_waiters: set[asyncio.Future[bool]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def in_use(self) -> int:
        """Requests currently holding a concurrency slot."""
        return self._in_use

    def paused_for_s(self) -> float:
        """Seconds left of the current Retry-After pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def pause(self, retry_after_s: float) -> None:
        """The provider said ``Retry-After``: grant no request to this account for that long."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + max(0.0, retry_after_s))
        if self._rate is not None:
            self._rate.pause(now, retry_after_s)

    async def acquire(self, token: CancelToken | None = None, *, until: float = math.inf) -> Grant:
        """Pass the circuit gate, then wait for a concurrency slot, then a rate slot.

        On a truthy grant the caller holds a slot and must call ``release`` once its request
        answered (``release(probe=True)`` for ``Grant.PROBE``), and should report the answer
        with ``record_success`` / ``record_failure``.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._adopt(loop)
        while True:
            if token is not None and token.cancelled:
                return Grant.REFUSED
            grant = await self._pass_circuit(token, until) if not self.circuit.closed else Grant.GRANTED
            if not grant:
                return Grant.REFUSED
            if not await self._take_slot(token, grant):
                return Grant.REFUSED
            try:
                on_time = await self._wait_for_rate(token, until)
            except BaseException:
                self.release(probe=grant is Grant.PROBE)
                raise
            if token is not None and token.cancelled:  # e.g. a slot handed over just before a cancel
                on_time = False
            if on_time and (grant is Grant.PROBE or self.circuit.closed):
                return grant
            self.release(probe=grant is Grant.PROBE)
            if not on_time:
                return Grant.REFUSED
            # the circuit opened while we queued: back to the gate, do not add to the outage

    async def _take_slot(self, token: CancelToken | None, grant: Grant) -> bool:
        if self._in_use < self.max_concurrency and not self._waiters:
            self._in_use += 1
            return True
        try:
            got_slot = await self._wait_for_slot(token)
        except BaseException:
            self._abandon(grant)
            raise
        if not got_slot:
            self._abandon(grant)
        return got_slot

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """A new event loop (a new process run, or a new test): the old loop's holders and waiters
        are gone with it, so their slots are not owed back."""
        self._loop = loop
        self._in_use = 0
        self._waiters.clear()
        self._circuit_waiters.clear()

    def record_success(self) -> None:
        """The provider answered (a receipt, or a permanent error): it is up."""
        if self.circuit.success():
            self._wake_circuit_waiters()

    def record_failure(self) -> None:
        """The provider looked unwell (5xx, connection refused, timeout)."""
        if self.circuit.failure(self._clock()):
            self._wake_circuit_waiters()

    def _abandon(self, grant: Grant) -> None:
        if grant is Grant.PROBE and self.circuit.probe_abandoned(self._clock()):
            self._wake_circuit_waiters()

    def _wake_circuit_waiters(self) -> None:
        waiters, self._circuit_waiters = self._circuit_waiters, set()
        for fut in waiters:
            _resolve(fut, True)

    async def _pass_circuit(self, token: CancelToken | None, until: float) -> Grant:
        loop = asyncio.get_running_loop()
        while not self.circuit.closed:
            now = self._clock()
            if self.circuit.try_probe(now):
                return Grant.PROBE
            if now >= until:
                return Grant.REFUSED
            timeout_s = until - now
            if self.circuit.next_probe_at > now:
                timeout_s = min(timeout_s, self.circuit.next_probe_at - now)
            fut: asyncio.Future[bool] = loop.create_future()
            self._circuit_waiters.add(fut)
            if token is not None:
                token.watch(fut)
            handle = loop.call_later(timeout_s, _resolve, fut, True) if math.isfinite(timeout_s) else None
            try:
                if not await fut:
                    return Grant.REFUSED
            finally:
                if handle is not None:
                    handle.cancel()
                self._circuit_waiters.discard(fut)
                if token is not None:
                    token.unwatch(fut)
        return Grant.GRANTED

    def release(self, *, probe: bool = False) -> None:
        """Give the concurrency slot back (to the longest waiter, if any).

        ``probe``: this was the circuit's probe; if no answer was recorded, another may go.
        """
        if probe:
            self._abandon(Grant.PROBE)
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done() and fut.get_loop() is self._loop:
                fut.set_result(True)  # the slot passes straight to this waiter
                return
        self._in_use = max(0, self._in_use - 1)

    async def _wait_for_slot(self, token: CancelToken | None) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if token is not None:
            token.watch(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                fut.cancel()
            raise
        finally:
            if token is not None:
                token.unwatch(fut)

    async def _wait_for_rate(self, token: CancelToken | None, until: float) -> bool:
        while True:
            now = self._clock()
            if now < self._paused_until:
                if self._paused_until >= until:
                    return False
                if not await _sleep(self._paused_until - now, token):
                    return False
                continue
            if self._rate is None:
                return True
            slot = self._rate.reserve(now)
            if slot <= now:
                return True
            if slot >= until:
                return False
            if not await _sleep(slot - now, token):
                return False
            if self._rate.paused_until <= slot:
                return True
            # a pause arrived while we slept: our slot is void, reserve a new one


async def _sleep(delay_s: float, token: CancelToken | None) -> bool:
    if token is not None:
        return await token.sleep(delay_s)
    await asyncio.sleep(delay_s)
    return True


class LimiterRegistry:
    """One ``AccountLimiter`` per account, created from the first channel's limits that asks.

    The circuit settings apply to every account's breaker (see ``crisiscast.dispatch.circuit``).
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        failure_threshold: int = 10,
        probe_interval_s: float = 1.0,
        max_probe_interval_s: float = 8.0,
    ) -> None:
        self._clock = clock
        self._circuit = (failure_threshold, probe_interval_s, max_probe_interval_s)
        self._limiters: dict[str, AccountLimiter] = {}

    def get(self, account: str, limits: ChannelLimits) -> AccountLimiter:
        limiter = self._limiters.get(account)
        if limiter is None:
            limiter = AccountLimiter(
                account,
                max_concurrency=limits.max_concurrency,
                max_requests_per_s=limits.max_requests_per_s,
                burst=limits.burst,
                circuit=Circuit(
                    failure_threshold=self._circuit[0],
                    probe_interval_s=self._circuit[1],
                    max_probe_interval_s=self._circuit[2],
                ),
                clock=self._clock,
            )
            self._limiters[account] = limiter
        return limiter


_DEFAULT = LimiterRegistry()


def default_registry() -> LimiterRegistry:
    """The process-wide registry: every ``Dispatcher`` without its own shares it."""
    return _DEFAULT
