"""Audit versus provider: what the audit says was attempted, against what the fakes saw and issued.

``read_audit`` loads one dispatch's events and delivery records. ``check_ledger`` asserts the
A1 equalities for the HTTP channels (X, Facebook, SMS):

- per channel: ``attempt_started`` events == requests at the fake's create endpoint +
  attempts that failed on our side before a request left (connect refused, …);
- per delivery: the same equality, matching requests to deliveries by what they carry (the
  SMS ``To``, the post text);
- the provider ids the audit recorded == the ids the fake issued, exactly, and every
  delivered record holds the id the fake issued for its target; no target was accepted twice.

It returns per-channel figures (targets, attempts, requests, reconcile lookups) for printing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from crisiscast.audit.base import AuditStore, DeliveryRecord
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.registry import spec_for
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.sandbox.common import FakeProvider, RecordedRequest

from .stage import Stage

__all__ = ["CLIENT_SIDE_CODES", "AuditView", "Figures", "check_ledger", "creates", "read_audit"]

# attempt_failed codes meaning the request never left this process
CLIENT_SIDE_CODES = frozenset(
    {"connect_error", "connect_timeout", "invalid_url", "internal_error", "expired"}
)
HTTP_CHANNELS = ("twitter", "facebook", "sms")
_CREATE_PATH = {"twitter": "/2/tweets", "facebook": "/feed", "sms": "/Messages.json"}


@dataclass
class AuditView:
    """One dispatch as the audit holds it."""

    events: list[AuditEvent]
    records: dict[str, DeliveryRecord]

    def of(self, kind: EventKind, channel: str | None = None) -> list[AuditEvent]:
        return [
            e
            for e in self.events
            if e.kind is kind and (channel is None or (e.delivery_key or "").split(":")[1] == channel)
        ]

    def for_key(self, key: str, kind: EventKind | None = None) -> list[AuditEvent]:
        return [e for e in self.events if e.delivery_key == key and (kind is None or e.kind is kind)]

    def deliveries(self, channel: str) -> list[DeliveryRecord]:
        return [r for r in self.records.values() if r.delivery.channel == channel]

    def states(self) -> Counter[str]:
        return Counter(f"{r.delivery.channel}:{r.state.value}" for r in self.records.values())


async def read_audit(store: AuditStore, dispatch_id: str) -> AuditView:
    events = [stored.event async for stored in store.events(dispatch_id)]
    records = {r.delivery.key: r for r in await store.deliveries(dispatch_id)}
    return AuditView(events, records)


def creates(fake: FakeProvider, channel: str) -> list[RecordedRequest]:
    """The requests that ask the provider to create a message (the sends; not the lookups)."""
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith(_CREATE_PATH[channel])]


def lookups(fake: FakeProvider) -> list[RecordedRequest]:
    """Reconcile and identity lookups (GETs), excluding the sandbox control API."""
    return [r for r in fake.requests if r.method == "GET" and not r.path.startswith("/_sandbox")]


def request_target(channel: str, rec: RecordedRequest) -> str:
    """What a create request carries that identifies its delivery."""
    if channel == "twitter":
        return str(json.loads(rec.body)["text"])
    form = parse_qs(rec.body)
    return form["To"][0] if channel == "sms" else form["message"][0]


def delivery_target(d: Delivery) -> str:
    return d.target if d.channel == "sms" else d.body


def fake_for(stage: Stage, channel: str, *, exercise: bool) -> FakeProvider:
    if channel == "twitter":
        return stage.x_exercise if exercise else stage.x
    return stage.graph if channel == "facebook" else stage.twilio


def issued(stage: Stage, channel: str, *, exercise: bool, targets: Iterable[str]) -> dict[str, list[str]]:
    """target -> the provider ids the fake issued for it (posts of the right account/page)."""
    wanted = set(targets)
    out: dict[str, list[str]] = {}
    if channel == "twitter":
        items = [(p["text"], p["id"]) for p in fake_for(stage, channel, exercise=exercise).posts]  # type: ignore[attr-defined]
    elif channel == "facebook":
        c = spec_for("facebook").config(stage.settings)
        page = c.exercise_page_id if exercise else c.page_id
        items = [(p["message"], p["id"]) for p in stage.graph.posts if p["id"].startswith(f"{page}_")]
    else:
        items = [(m["to"], m["sid"]) for m in stage.twilio.messages()]
    for target, provider_id in items:
        if target in wanted:
            out.setdefault(target, []).append(str(provider_id))
    return out


@dataclass
class Figures:
    """Per channel: planned targets, attempts (audit), create requests and lookups (fake)."""

    targets: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    lookups: Counter[str] = field(default_factory=Counter)
    client_side: Counter[str] = field(default_factory=Counter)

    def ratio(self, channels: Iterable[str] = HTTP_CHANNELS) -> float:
        names = list(channels)
        return sum(self.requests[c] for c in names) / max(1, sum(self.targets[c] for c in names))

    def line(self) -> str:
        parts = [
            f"{c}: targets={self.targets[c]} attempts={self.attempts[c]} requests={self.requests[c]} "
            f"lookups={self.lookups[c]} client_side={self.client_side[c]}"
            for c in sorted(self.targets)
        ]
        return "; ".join(parts)


def check_ledger(
    stage: Stage, view: AuditView, *, exercise: bool, channels: Iterable[str] = HTTP_CHANNELS
) -> Figures:
    """Assert the A1 equalities (module docstring) for ``channels``; return the figures."""
    figures = Figures()
    for channel in channels:
        fake = fake_for(stage, channel, exercise=exercise)
        records = view.deliveries(channel)
        targets = {delivery_target(r.delivery): r for r in records}
        assert len(targets) == len(records), f"{channel}: two deliveries carry the same target"
        started = view.of(EventKind.ATTEMPT_STARTED, channel)
        client_side = [
            e for e in view.of(EventKind.ATTEMPT_FAILED, channel) if e.data.get("code") in CLIENT_SIDE_CODES
        ]
        sent = [r for r in creates(fake, channel) if request_target(channel, r) in targets]
        figures.targets[channel] = len(records)
        figures.attempts[channel] = len(started)
        figures.requests[channel] = len(sent)
        figures.client_side[channel] = len(client_side)
        figures.lookups[channel] = len(lookups(fake))
        assert len(started) == len(sent) + len(client_side), (
            f"{channel}: audit has {len(started)} attempts, the provider saw {len(sent)} requests "
            f"and {len(client_side)} failed before leaving"
        )
        per_target = Counter(request_target(channel, r) for r in sent)
        client_keys = Counter(e.delivery_key for e in client_side)
        for target, record in targets.items():
            key = record.delivery.key
            attempts = len(view.for_key(key, EventKind.ATTEMPT_STARTED))
            assert attempts == per_target[target] + client_keys[key], (
                f"{key}: {attempts} attempts in the audit, {per_target[target]} requests at the provider"
            )
        ids = issued(stage, channel, exercise=exercise, targets=targets)
        twice = {t: v for t, v in ids.items() if len(v) > 1}
        assert not twice, f"{channel}: the provider accepted a target more than once: {list(twice)[:3]}"
        audit_ids = {str(e.data["provider_id"]) for e in view.of(EventKind.ATTEMPT_SUCCEEDED, channel)}
        audit_ids |= {
            str(e.data["provider_id"])
            for e in view.of(EventKind.DELIVERY_RECONCILED, channel)
            if e.data.get("found")
        }
        fake_ids = {v[0] for v in ids.values()}
        assert audit_ids == fake_ids, (
            f"{channel}: provider ids differ: only in the audit {sorted(audit_ids - fake_ids)[:3]}, "
            f"only at the provider {sorted(fake_ids - audit_ids)[:3]}"
        )
        for target, record in targets.items():
            if record.state is DeliveryState.DELIVERED:
                assert record.provider_id == ids[target][0], f"{record.delivery.key}: wrong provider id"
            else:
                assert target not in ids, f"{record.delivery.key} is {record.state} but the provider has it"
    return figures


def summary(view: AuditView) -> dict[str, Any]:
    return dict(view.states())
