"""Deliveries, receipts and reports: what the dispatcher plans, sends and returns.

A ``Delivery`` is one provider request to make: one SMS to one recipient, one part of an X
thread, the banner state, one MQTT retained message. Its ``key`` —
``dispatch_id:channel:target:part`` — is deterministic, so the same plan always yields the
same keys and a delivery can never be planned (or sent) twice.

Deliveries are plain slotted dataclasses, not pydantic models: a 50,000-recipient fan-out
builds 50,000 of them and every microsecond counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crisiscast.jsontypes import (
    JsonMapping,
    JsonObject,
    expect_object,
    expect_optional_str,
    expect_str,
    to_int,
)

__all__ = [
    "ChannelReport",
    "Delivery",
    "DeliveryState",
    "DispatchReport",
    "Failure",
    "Receipt",
    "delivery_key",
]


def delivery_key(dispatch_id: str, channel: str, target: str, part: int) -> str:
    """The idempotency key of one delivery."""
    return f"{dispatch_id}:{channel}:{target}:{part}"


class DeliveryState(StrEnum):
    """Where one delivery stands. Terminal: delivered, failed, cancelled, skipped."""

    PENDING = "pending"  # planned, or failed transiently: safe to send
    IN_DOUBT = "in_doubt"  # an attempt started and no outcome was recorded: reconcile first
    DELIVERED = "delivered"  # the provider accepted it
    FAILED = "failed"  # permanent error, retries exhausted, deadline or expiry passed
    CANCELLED = "cancelled"  # stopped by a cancel before it was sent
    SKIPPED = "skipped"  # deliberately not sent (e.g. no exercise target for this channel)

    @property
    def terminal(self) -> bool:
        return self not in (DeliveryState.PENDING, DeliveryState.IN_DOUBT)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One provider request to make, fully rendered (pure data, JSON-serialisable payload).

    ``after`` names the key of a delivery that must be delivered first (the previous part of
    an X thread); its ``Receipt`` is handed to ``Channel.send`` as ``previous``.
    """

    dispatch_id: str
    channel: str
    target: str
    part: int
    body: str
    language: str = "en"
    payload: Mapping[str, Any] = field(default_factory=dict)
    after: str | None = None

    @property
    def key(self) -> str:
        return delivery_key(self.dispatch_id, self.channel, self.target, self.part)

    def to_json(self) -> JsonObject:
        return {
            "key": self.key,
            "dispatch_id": self.dispatch_id,
            "channel": self.channel,
            "target": self.target,
            "part": self.part,
            "body": self.body,
            "language": self.language,
            "payload": dict(self.payload),
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: JsonMapping) -> Delivery:
        return cls(
            dispatch_id=expect_str(data["dispatch_id"]),
            channel=expect_str(data["channel"]),
            target=expect_str(data["target"]),
            part=to_int(data["part"]),
            body=expect_str(data["body"]),
            language=expect_str(data.get("language", "en")),
            payload=dict(expect_object(data.get("payload") or {})),
            after=expect_optional_str(data.get("after")),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the provider said when it accepted a delivery."""

    provider_id: str | None
    status: str = "accepted"
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one delivery ended failed."""

    key: str
    target: str
    code: str | None
    reason: str


@dataclass(slots=True)
class ChannelReport:
    """The outcome of one channel in one dispatch."""

    channel: str
    planned: int = 0
    delivered: int = 0
    failed: list[Failure] = field(default_factory=list)
    cancelled: int = 0
    skipped: int = 0
    in_doubt: int = 0
    attempts: int = 0
    provider_ids: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        """Everything planned was delivered (or deliberately skipped), and nothing failed.

        A channel that could not render the message has no deliveries but one failure.
        """
        return not self.failed and self.delivered + self.skipped == self.planned

    def to_json(self) -> JsonObject:
        return {
            "channel": self.channel,
            "planned": self.planned,
            "delivered": self.delivered,
            "failed": [
                {"key": f.key, "target": f.target, "code": f.code, "reason": f.reason} for f in self.failed
            ],
            "cancelled": self.cancelled,
            "skipped": self.skipped,
            "in_doubt": self.in_doubt,
            "attempts": self.attempts,
            "provider_ids": list(self.provider_ids),
            "duration_s": round(self.duration_s, 3),
            "note": self.note,
        }


@dataclass(slots=True)
class DispatchReport:
    """The outcome of a whole dispatch: one report per channel."""

    dispatch_id: str
    channels: dict[str, ChannelReport] = field(default_factory=dict)
    duration_s: float = 0.0
    # per channel: the forecast recorded with the plan beside the actual time to the last
    # delivery (``crisiscast.dispatch.forecasting.forecast_vs_actual``; filled by the CLI)
    forecast_vs_actual: list[JsonObject] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.channels.values())

    def to_json(self) -> JsonObject:
        return {
            "dispatch_id": self.dispatch_id,
            "ok": self.ok,
            "duration_s": round(self.duration_s, 3),
            "channels": {name: r.to_json() for name, r in self.channels.items()},
        }
