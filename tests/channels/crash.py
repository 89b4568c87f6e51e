"""A crash between "the provider got it" and "the audit knows it", then a resume, for any channel.

``crash_then_resume(channel, message, accepted=…)`` plans a dispatch of ``message`` to
``channel`` on the real SQLite store, then leaves the audit exactly as a kill -9 right after
the request left would: each delivery's ``attempt_started`` recorded and nothing after it.
With ``accepted`` the provider did receive every request (the channel's own ``send`` went out
over HTTP to its fake first). ``Dispatcher.resume`` then finishes the dispatch the way
``crisiscast resume`` does: in-doubt deliveries are reconciled with the provider first.
"""

from __future__ import annotations

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import Channel
from crisiscast.delivery import DispatchReport
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.message import CrisisMessage
from tests.dispatch.recording import RecordingStore

APPROVAL = {"approver": "alice", "method": "cli-confirm"}


async def crash_then_resume(
    channel: Channel, message: CrisisMessage, *, accepted: bool, policy: str = "severe_resend"
) -> tuple[DispatchReport, RecordingStore]:
    """Plan, crash after the requests left (``accepted``: the provider has them), resume."""
    store = RecordingStore()
    await store.open()
    dispatcher = Dispatcher(
        store, limiters=LimiterRegistry(), in_doubt_policy=policy, backoff_base_s=0.001, backoff_cap_s=0.002
    )
    plan = await dispatcher.plan(message, [channel], approval=APPROVAL)
    for delivery in plan.all_deliveries():
        if accepted:
            await channel.send(delivery, None)
        event = AuditEvent(
            EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=delivery.key
        )
        await store.append([event])
    report = await dispatcher.resume(plan.dispatch_id, [channel])
    return report, store
