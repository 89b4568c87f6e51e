"""A circuit breaker per provider account: when the provider is down, probe instead of hammering.

Without it, a provider outage burns every delivery's attempts in a minute of back-offs and
fails them all, and a 1,000-recipient fan-out sends thousands of doomed requests. With it:

- **closed** (normal): every request may go. ``failure_threshold`` consecutive failures that
  say "the provider is unwell" (5xx, connection refused, timeouts) open the circuit.
- **open**: no request goes, except one probe every ``probe_interval_s`` (doubling up to
  ``max_probe_interval_s`` while probes keep failing). Waiting here costs a delivery no
  attempt; only its own deadline (or the message expiry, or a cancel) ends the wait.
- **half-open**: the probe is in flight. Its success closes the circuit and wakes everyone;
  its failure re-opens it.

A permanent error is an answer from a healthy provider, so it counts as a success here; a
429 has its own Retry-After pause (``AccountLimiter.pause``) and is not counted at all.

``Circuit`` is pure state (times are passed in), so it is tested without a clock.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Circuit", "CircuitState"]


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Circuit:
    """The breaker's state machine. Methods return True when waiters should re-check."""

    __slots__ = (
        "_consecutive",
        "_interval_s",
        "failure_threshold",
        "max_probe_interval_s",
        "next_probe_at",
        "probe_interval_s",
        "state",
    )

    def __init__(
        self, *, failure_threshold: int = 10, probe_interval_s: float = 1.0, max_probe_interval_s: float = 8.0
    ) -> None:
        self.failure_threshold = failure_threshold
        self.probe_interval_s = probe_interval_s
        self.max_probe_interval_s = max_probe_interval_s
        self.state = CircuitState.CLOSED
        self.next_probe_at = 0.0
        self._interval_s = probe_interval_s
        self._consecutive = 0

    @property
    def closed(self) -> bool:
        return self.state is CircuitState.CLOSED

    def try_probe(self, now: float) -> bool:
        """When open and the probe time has come: become half-open; the caller is the probe."""
        if self.state is CircuitState.OPEN and now >= self.next_probe_at:
            self.state = CircuitState.HALF_OPEN
            return True
        return False

    def success(self) -> bool:
        self._consecutive = 0
        if self.state is CircuitState.CLOSED:
            return False
        self.state = CircuitState.CLOSED
        self._interval_s = self.probe_interval_s
        return True

    def failure(self, now: float) -> bool:
        self._consecutive += 1
        if self.state is CircuitState.HALF_OPEN:
            self._interval_s = min(self._interval_s * 2.0, self.max_probe_interval_s)
            self._open(now)
            return True
        if self.state is CircuitState.CLOSED and self._consecutive >= self.failure_threshold:
            self._open(now)
            return True
        return False

    def probe_abandoned(self, now: float) -> bool:
        """The probe ended without an answer (cancelled, deadline): let another probe go now."""
        if self.state is not CircuitState.HALF_OPEN:
            return False
        self.state = CircuitState.OPEN
        self.next_probe_at = now
        return True

    def _open(self, now: float) -> None:
        self.state = CircuitState.OPEN
        self.next_probe_at = now + self._interval_s
