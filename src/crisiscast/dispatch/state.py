"""The state of one running dispatch: its cancel token, chain gates, reports and audit writes.

``RunState`` is shared by every delivery of a run; ``ChannelRun`` by every delivery of one
channel. ``settle`` is the one place a delivery reaches its final state for this run: it
counts it in the channel report, opens the gate of deliveries chained after it and tells
the progress callback. Audit writes go through ``RunState.record`` (one ``store.append``
per call; the store batches concurrent calls into one commit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from crisiscast.audit.base import AuditStore, DeliveryRecord
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import Channel
from crisiscast.delivery import ChannelReport, Delivery, DeliveryState, Failure, Receipt
from crisiscast.dispatch.cancel import CancelToken
from crisiscast.dispatch.chunks import DurablePlan
from crisiscast.dispatch.limiter import AccountLimiter
from crisiscast.dispatch.retry import RetryPolicy
from crisiscast.jsontypes import JsonMapping
from crisiscast.message import CrisisMessage, Severity, Status

__all__ = ["ChannelRun", "Gate", "ProgressCallback", "RunState", "may_resend_unreconciled"]

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[str, str, DeliveryState], None]
"""``(channel, delivery key, state)`` on every change a live view cares about: ``in_doubt`` when
an attempt starts, ``pending`` when a transient failure will be retried, then once the state
the delivery ends this run in (terminal; or ``in_doubt`` when held for a later resume).
Called synchronously from the dispatcher: keep it cheap; an exception disables it."""
Gate = asyncio.Future[tuple[DeliveryState, Receipt | None]]

IN_DOUBT_POLICIES = ("severe_resend", "resend", "hold")


def may_resend_unreconciled(policy: str, message: CrisisMessage) -> bool:
    """May an in-doubt delivery the provider cannot be asked about be sent again?

    ``resend``: always; ``hold``: never; ``severe_resend``: only Actual messages of Extreme
    or Severe severity (a duplicate warning beats a missing one only when lives are at stake).
    """
    if policy == "resend":
        return True
    if policy == "hold":
        return False
    return message.status is Status.ACTUAL and message.severity in (Severity.EXTREME, Severity.SEVERE)


@dataclass(slots=True)
class ChannelRun:
    """One channel within one run: its limiter, retry policy and report."""

    channel: Channel
    limiter: AccountLimiter
    policy: RetryPolicy
    report: ChannelReport
    started_at: float = 0.0


@dataclass(slots=True)
class RunState:
    """Everything the deliveries of one run share."""

    dispatch_id: str
    message: CrisisMessage
    store: AuditStore
    token: CancelToken
    in_doubt_policy: str
    clock: Callable[[], float] = time.monotonic
    expires_at: float | None = None  # message expiry as a clock() time
    progress: ProgressCallback | None = None
    prior: Mapping[str, DeliveryRecord] = field(default_factory=dict)  # resume: stored states
    gates: dict[str, Gate] = field(default_factory=dict)
    durable: DurablePlan | None = None  # a plan still being written: send only its durable chunks

    def expired(self) -> bool:
        return self.expires_at is not None and self.clock() >= self.expires_at

    def may_resend_unreconciled(self) -> bool:
        return may_resend_unreconciled(self.in_doubt_policy, self.message)

    def open_gates(self, deliveries: Sequence[Delivery]) -> None:
        """Create a gate for every delivery of this run another one is chained after.

        A predecessor outside this run (a worker's batch holding a later part only) gets no
        gate: nothing here would ever open it; its stored state in ``prior`` is used instead.
        """
        chained = {d.after for d in deliveries if d.after is not None}
        if not chained:
            return
        loop = asyncio.get_running_loop()
        for d in deliveries:
            if d.key in chained and d.key not in self.gates:
                self.gates[d.key] = loop.create_future()

    def hold_gates(self, deliveries: Sequence[Delivery]) -> None:
        """These deliveries will not run now: whatever is chained after them stays pending."""
        for d in deliveries:
            gate = self.gates.get(d.key)
            if gate is not None and not gate.done():
                gate.set_result((DeliveryState.PENDING, None))

    async def backoff_sleep(self, delay_s: float) -> None:
        """The retry stage's sleep: ends early on cancel (the next round then stops)."""
        await self.token.sleep(delay_s)

    async def record(self, kind: EventKind, key: str | None, data: JsonMapping) -> None:
        await self.store.append(
            [AuditEvent(kind=kind, dispatch_id=self.dispatch_id, data=data, delivery_key=key)]
        )
        if self.durable is not None and kind is EventKind.ATTEMPT_STARTED:
            self.durable.sending.set()  # the rest of the plan may be written now (chunks.py)

    async def record_many(self, events: Sequence[AuditEvent], *, chunk: int = 1000) -> None:
        for start in range(0, len(events), chunk):
            await self.store.append(events[start : start + chunk])

    def event(self, kind: EventKind, key: str | None, data: JsonMapping) -> AuditEvent:
        return AuditEvent(kind=kind, dispatch_id=self.dispatch_id, data=data, delivery_key=key)

    def settle(
        self,
        cr: ChannelRun,
        d: Delivery,
        state: DeliveryState,
        *,
        receipt: Receipt | None = None,
        code: str | None = None,
        reason: str = "",
    ) -> None:
        """Count ``d`` as ``state`` in its channel report, open its gate, report progress."""
        report = cr.report
        if state is DeliveryState.DELIVERED:
            report.delivered += 1
            if receipt is not None and receipt.provider_id:
                report.provider_ids.append(receipt.provider_id)
        elif state is DeliveryState.FAILED:
            report.failed.append(Failure(key=d.key, target=d.target, code=code, reason=reason))
        elif state is DeliveryState.CANCELLED:
            report.cancelled += 1
        elif state is DeliveryState.SKIPPED:
            report.skipped += 1
        else:
            report.in_doubt += 1
        report.duration_s = self.clock() - cr.started_at
        if self.gates:
            gate = self.gates.get(d.key)
            if gate is not None and not gate.done():
                gate.set_result((state, receipt))
        if self.progress is not None:
            self.notify(report.channel, d.key, state)

    def notify(self, channel: str, key: str, state: DeliveryState) -> None:
        if self.progress is None:
            return
        try:
            self.progress(channel, key, state)
        except Exception:  # a broken progress view must never stop a broadcast
            log.warning("progress_callback_failed", dispatch_id=self.dispatch_id, exc_info=True)
            self.progress = None
