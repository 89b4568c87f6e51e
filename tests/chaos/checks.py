"""What a crash-safe broadcast must look like afterwards, checked from the fakes and the audit.

``check_outcome`` compares three things that must agree after any number of crashes:

- the planned deliveries in the audit store (every one terminal: delivered, or failed with
  a reason);
- what the providers hold (the fakes' state: one Twilio message per recipient, one post per
  X thread part and per Page post — never two);
- what the providers were asked (the fakes' request logs) against the attempts the audit
  recorded: a recorded outcome always had a request; a request always had a recorded start;
  the only difference is attempts killed after ``attempt_started`` before the request left.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from crisiscast.audit.base import AuditStore, DeliveryRecord
from crisiscast.audit.events import EventKind
from crisiscast.delivery import DeliveryState
from crisiscast.sandbox.common import FakeProvider
from crisiscast.sandbox.graph import FakeGraph
from crisiscast.sandbox.twilio import FakeTwilio
from crisiscast.sandbox.x import FakeX

__all__ = ["Outcome", "check_outcome"]

_OUTCOMES = (EventKind.ATTEMPT_SUCCEEDED, EventKind.ATTEMPT_FAILED)


@dataclass
class Outcome:
    """Figures for the test output."""

    deliveries: int = 0
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    requests: int = 0
    killed_before_request: int = 0  # attempts started, killed before the request left
    reconciled_found: int = 0
    reconciled_missing: int = 0
    reconciled_by_channel: Counter[str] = field(default_factory=Counter)
    ambiguous_resends: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"deliveries={self.deliveries} delivered={self.delivered} failed={self.failed} "
            f"lost={len(self.lost)} duplicates={sum(self.duplicates.values())} attempts={self.attempts} "
            f"requests={self.requests} killed_before_request={self.killed_before_request} "
            f"reconciled(found={self.reconciled_found}, missing={self.reconciled_missing}) "
            f"ambiguous_resends={self.ambiguous_resends} "
            f"reconciles by channel={dict(self.reconciled_by_channel)}"
        )


def _request_target(role: str, body: str) -> str:
    """The delivery a provider request was for: SMS by number, posts by their text."""
    if role == "twilio":
        return parse_qs(body)["To"][0]
    if role == "x":
        return str(json.loads(body)["text"])
    return parse_qs(body)["message"][0]


def _delivery_target(record: DeliveryRecord) -> str:
    d = record.delivery
    return d.target if d.channel == "sms" else d.body


_ROLE = {"sms": "twilio", "twitter": "x", "facebook": "graph"}


async def check_outcome(
    store: AuditStore, dispatch_id: str, *, twilio: FakeTwilio, x: FakeX, graph: FakeGraph
) -> Outcome:
    """Assert nothing lost, nothing twice, audit == fakes; returns the figures."""
    records = await store.deliveries(dispatch_id)
    out = Outcome(deliveries=len(records))
    started: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    async for stored in store.events(dispatch_id):
        ev = stored.event
        if ev.delivery_key is None:
            continue
        key: str = ev.delivery_key
        if ev.kind is EventKind.ATTEMPT_STARTED:
            started[key] += 1
            if ev.data.get("ambiguous_resend"):
                out.ambiguous_resends += 1
        elif ev.kind in _OUTCOMES:
            answered[key] += 1
        elif ev.kind is EventKind.DELIVERY_RECONCILED:
            out.reconciled_by_channel[key.split(":")[1]] += 1
            if ev.data.get("found"):
                out.reconciled_found += 1
            else:
                out.reconciled_missing += 1

    # 0 lost: every planned delivery is terminal; delivered, or failed with a reason
    for r in records:
        if r.state is DeliveryState.DELIVERED:
            out.delivered += 1
        elif r.state is DeliveryState.FAILED and r.last_reason:
            out.failed += 1
        else:
            out.lost.append(f"{r.delivery.key} is {r.state} ({r.last_reason})")
    assert not out.lost, f"deliveries lost: {out.lost[:10]}"

    # what the providers hold: exactly one accepted message per delivered HTTP delivery
    accepted: dict[str, list[tuple[str, str]]] = {  # role -> (target, provider id)
        "twilio": [(m["to"], m["sid"]) for m in twilio.messages()],
        "x": [(p["text"], p["id"]) for p in x.posts],
        "graph": [(p["message"], p["id"]) for p in graph.posts],
    }
    held = {role: Counter(t for t, _ in items) for role, items in accepted.items()}
    provider_ids = {role: dict(items) for role, items in accepted.items()}
    for role, counts in held.items():
        twice = {t: n for t, n in counts.items() if n > 1}
        if twice:
            out.duplicates[role] = len(twice)
    assert not out.duplicates, f"sent twice: {out.duplicates} (e.g. {_examples(held)})"
    by_role: dict[str, dict[str, DeliveryRecord]] = {}
    for r in records:
        channel_role = _ROLE.get(r.delivery.channel)
        if channel_role is not None:
            by_role.setdefault(channel_role, {})[_delivery_target(r)] = r
    for role, mapping in by_role.items():
        delivered = {t for t, r in mapping.items() if r.state is DeliveryState.DELIVERED}
        assert set(held[role]) == delivered, (
            f"{role}: provider holds {len(held[role])}, audit {len(delivered)}"
        )
        for target, r in mapping.items():
            if r.state is DeliveryState.DELIVERED:
                assert r.provider_id == provider_ids[role][target], f"{r.delivery.key}: provider id differs"

    # audit attempts == requests the providers saw + attempts killed before their request left
    requests: Counter[tuple[str, str]] = Counter()
    fakes: dict[str, FakeProvider] = {"twilio": twilio, "x": x, "graph": graph}
    for role in by_role:
        for rec in fakes[role].requests:
            if rec.method == "POST":
                requests[role, _request_target(role, rec.body)] += 1
    for role, mapping in by_role.items():
        for target, r in mapping.items():
            key = r.delivery.key
            seen, s, a = requests[role, target], started[key], answered[key]
            assert a <= seen <= s, f"{key}: {a} outcomes, {seen} requests at the provider, {s} attempts"
            out.killed_before_request += s - seen
    out.attempts = sum(started.values())
    out.requests = sum(requests.values())
    return out


def _examples(held: dict[str, Counter[str]]) -> dict[str, Any]:
    return {role: [t for t, n in c.items() if n > 1][:3] for role, c in held.items()}
