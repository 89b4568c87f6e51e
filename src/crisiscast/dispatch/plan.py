"""Planning: render every channel into deliveries, and the audit events that persist the plan.

Rendering is pure. A channel whose ``render`` raises (a ``PolicyError`` such as a message
too long for its budget, or a bug) is recorded as failed with the reason and planned with
no deliveries; the other channels are planned as usual. The plan — message, approval,
counts, skipped and failed channels and every delivery — is written before anything is
sent: ``plan_events`` in ONE ``store.append`` (one transaction), or chunk by chunk for a large
plan (``crisiscast.dispatch.chunks``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from crisiscast.adapt.phi import check_phi
from crisiscast.audit.base import DeliveryRecord
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import Channel, RenderContext
from crisiscast.channels.registry import title_of
from crisiscast.delivery import Delivery
from crisiscast.errors import UserError
from crisiscast.escalation.schedule import escalation_plan_events
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["Plan", "RenderFailure", "new_dispatch_id", "plan_events", "render_all"]

log = structlog.get_logger(__name__)


def new_dispatch_id(now: datetime | None = None) -> str:
    """A readable, sortable, unique dispatch id such as ``20261128-140500-3f9a1c``."""
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A channel that could not render the message: planned with no deliveries."""

    channel: str
    code: str  # "policy" (a PolicyError or other user-facing refusal) or "internal_error"
    reason: str


@dataclass(slots=True)
class Plan:
    """What a dispatch will send: deliveries per channel, in plan order.

    ``prior`` is set on resume: the stored state of each delivery (terminal ones are only
    counted, in-doubt ones reconciled first).
    """

    dispatch_id: str
    message: CrisisMessage
    channels: dict[str, Channel]
    deliveries: dict[str, list[Delivery]]
    approval: JsonMapping = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[RenderFailure] = field(default_factory=list)
    prior: Mapping[str, DeliveryRecord] = field(default_factory=dict)
    forecast: JsonObject = field(default_factory=dict)  # dispatch.forecasting.plan_forecast, recorded

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(ds) for name, ds in self.deliveries.items()}

    def all_deliveries(self) -> list[Delivery]:
        return [d for ds in self.deliveries.values() for d in ds]


def render_all(
    message: CrisisMessage, channels: Sequence[Channel], ctx: RenderContext
) -> tuple[dict[str, Channel], dict[str, list[Delivery]], list[RenderFailure]]:
    """Render each channel; a failing channel becomes a ``RenderFailure``, never an exception.

    Public channels are held to the PHI guard here, once for every channel, unless the
    operator overrode it with a recorded reason (``ctx.phi_override``).
    """
    by_name: dict[str, Channel] = {}
    deliveries: dict[str, list[Delivery]] = {}
    failed: list[RenderFailure] = []
    for channel in channels:
        name = channel.name
        if name in by_name:
            raise ValueError(f"channel {name!r} given twice")
        by_name[name] = channel
        try:
            if channel.public and ctx.phi_override is None:
                check_phi(message, channel.policy, channel=title_of(name))
            rendered = list(channel.render(message, ctx))
        except UserError as exc:
            failed.append(RenderFailure(name, "policy", str(exc)))
            deliveries[name] = []
            continue
        except Exception as exc:
            log.error("render_crashed", dispatch_id=ctx.dispatch_id, channel=name, exc_info=True)
            failed.append(
                RenderFailure(name, "internal_error", f"the {name} channel could not render: {exc}")
            )
            deliveries[name] = []
            continue
        deliveries[name] = rendered
    return by_name, deliveries, failed


def plan_events(plan: Plan) -> list[AuditEvent]:
    """The events that persist ``plan`` (one transaction): plan, approval, skips, deliveries."""
    dispatch_id = plan.dispatch_id
    skipped = [{"channel": name, "reason": reason} for name, reason in plan.skipped]
    failed = [{"channel": f.channel, "code": f.code, "reason": f.reason} for f in plan.failed]
    events = [
        AuditEvent(
            EventKind.DISPATCH_PLANNED,
            dispatch_id,
            {
                "message": plan.message.model_dump(mode="json"),
                "approval": dict(plan.approval),
                "channels": sorted(plan.deliveries),
                "counts": plan.counts,
                "skipped": skipped,
                "render_failed": failed,
                **({"forecast": plan.forecast} if plan.forecast else {}),
            },
        ),
        AuditEvent(EventKind.APPROVAL_RECORDED, dispatch_id, dict(plan.approval)),
    ]
    events.extend(AuditEvent(EventKind.CHANNEL_SKIPPED, dispatch_id, entry) for entry in skipped)
    events.extend(
        AuditEvent(EventKind.CHANNEL_SKIPPED, dispatch_id, {**entry, "render_failed": True})
        for entry in failed
    )
    for ds in plan.deliveries.values():
        events.extend(
            AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key) for d in ds
        )
    # the escalation schedule (an alert with steps) or its stop (an all-clear), in the same write
    events.extend(escalation_plan_events(dispatch_id, plan.message, plan.approval, datetime.now(UTC)))
    return events
