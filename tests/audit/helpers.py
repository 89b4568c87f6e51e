"""Event builders for the audit tests."""

from __future__ import annotations

from typing import Any

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import Delivery


def delivery(dispatch_id: str, target: str, part: int = 0, channel: str = "sms") -> Delivery:
    return Delivery(dispatch_id, channel, target, part, f"Fire in wing B ({target})", payload={"to": target})


def plan(dispatch_id: str, targets: int, *, channel: str = "sms") -> tuple[list[AuditEvent], list[Delivery]]:
    """A draft, an approval, the plan and ``targets`` planned deliveries (as the dispatcher records them)."""
    message: dict[str, Any] = {"identifier": dispatch_id, "headline": "Fire in wing B", "status": "Actual"}
    deliveries = [delivery(dispatch_id, f"+1555000{i:04d}", channel=channel) for i in range(targets)]
    events = [
        AuditEvent(EventKind.DRAFT_CREATED, dispatch_id, {"message": message, "author": "ops"}),
        AuditEvent(EventKind.APPROVAL_RECORDED, dispatch_id, {"approver": "alice", "method": "cli"}),
        AuditEvent(
            EventKind.DISPATCH_PLANNED,
            dispatch_id,
            {
                "message": message,
                "channels": [channel],
                "counts": {channel: targets},
                "approval": {"by": "alice"},
            },
        ),
        *(
            AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key)
            for d in deliveries
        ),
    ]
    return events, deliveries


def ev(kind: EventKind, d: Delivery, **data: Any) -> AuditEvent:
    return AuditEvent(kind, d.dispatch_id, data, delivery_key=d.key)
