"""The facts of an after-action report, read from the verified audit events alone.

Nothing here reads the ``dispatches``/``deliveries`` caches: the views are rebuilt from the
events (``crisiscast.audit.views.Replay``) in the same walk that verifies the chain and the
signed checkpoints (``crisiscast.audit.evidence``), so the report says what the evidence says.

Per dispatch: the message and each channel's exact text (the bodies of its deliveries), who
drafted, approved and sent it and when, per-channel reach (planned, delivered, failed by
reason, skipped, cancelled), time to deliver (approval → provider acceptance; → handset where
an SMS receipt says ``delivered``) as p50/p95/max, retries, in-doubt deliveries resolved by
asking the provider, and its follow-ups (Updates, the all-clear).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiscast.audit.base import AuditStore
from crisiscast.audit.checkpoint import Checkpoint
from crisiscast.audit.events import EventKind
from crisiscast.audit.evidence import EvidenceReport, verify_evidence
from crisiscast.audit.prepare import EventRow
from crisiscast.audit.views import Replay

__all__ = ["ChannelReach", "DispatchFacts", "ReportData", "build_report", "percentile"]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0–100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class ChannelReach:
    planned: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    pending: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # reason → count
    texts: list[tuple[str, str]] = field(default_factory=list)  # (language, exact text), distinct
    accept_s: list[float] = field(default_factory=list)  # approval → provider acceptance
    handset_s: list[float] = field(default_factory=list)  # approval → handset receipt
    delivered_at_s: list[float] = field(default_factory=list)  # for the chart (from approval)


@dataclass(slots=True)
class DispatchFacts:
    dispatch_id: str
    state: str
    message: dict[str, Any]
    drafted_by: str = ""
    drafted_at: str = ""
    approvals: list[tuple[str, str, str]] = field(default_factory=list)  # (who, how, when)
    sent_by: str = ""
    planned_at: str = ""
    finished_at: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (channel, reason)
    channels: dict[str, ChannelReach] = field(default_factory=dict)
    retries: int = 0  # attempts beyond the first
    in_doubt_resolved: list[tuple[str, bool]] = field(default_factory=list)  # (delivery key, found)
    follow_ups: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, dispatch id, headline)
    root: str | None = None  # the original alert, for a follow-up
    # per channel: the forecast recorded with the plan beside the actual time to the last
    # accepted delivery, both from the plan's record (``dispatch.forecasting.forecast_vs_actual``)
    forecast_vs_actual: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exercise(self) -> bool:
        return str(self.message.get("status", "")) in ("Exercise", "Test")


@dataclass(slots=True)
class ReportData:
    dispatches: list[DispatchFacts]
    evidence: EvidenceReport
    key_fingerprint: str | None
    generated_at: str

    @property
    def exercise(self) -> bool:
        """A drill report (every page says EXERCISE) when any dispatch in it is a drill."""
        return any(d.exercise for d in self.dispatches)


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


class _Collector:
    """Gathers, per dispatch, what the views do not keep: who and when, times, resolutions."""

    def __init__(self) -> None:
        self.replay = Replay()
        self.facts: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"approved_at": None, "accepted": {}, "handset": {}, "reconciled": [], "author": ("", "")}
        )

    def feed(self, rows: Sequence[EventRow]) -> None:
        import json

        for _seq, at, kind, dispatch_id, key, data_json, *_ in rows:
            f = self.facts[dispatch_id]
            if kind == EventKind.DRAFT_CREATED:
                data = json.loads(data_json)
                f["author"] = (str(data.get("author") or ""), at)
            elif kind == EventKind.APPROVAL_RECORDED and f["approved_at"] is None:
                f["approved_at"] = at
            elif kind == EventKind.DISPATCH_PLANNED:
                f["planned_at"] = at
                f["approved_at"] = f["approved_at"] or at
            elif kind == EventKind.DISPATCH_FINISHED:
                f["finished_at"] = at
            elif kind in (EventKind.ATTEMPT_SUCCEEDED, EventKind.DELIVERY_RECONCILED) and key:
                if kind == EventKind.DELIVERY_RECONCILED:
                    data = json.loads(data_json)
                    f["reconciled"].append((key, bool(data.get("found"))))
                    if not data.get("found"):
                        continue
                f["accepted"].setdefault(key, at)
            elif kind == EventKind.RECEIPT_STATUS and key and '"status":"delivered"' in data_json:
                f["handset"].setdefault(key, at)


def _facts(dispatch_id: str, collector: _Collector) -> DispatchFacts | None:
    record = collector.replay.dispatch_record(dispatch_id)
    if record is None:
        return None
    raw = collector.facts[dispatch_id]
    summary = dict(record.summary)
    approval = summary.get("approval") or {}
    facts = DispatchFacts(dispatch_id, record.state, dict(record.message))
    facts.drafted_by, facts.drafted_at = raw["author"]
    for a in summary.get("approvals") or ():
        facts.approvals.append(
            (str(a.get("approver") or a.get("who") or "?"), str(a.get("method", "")), str(a.get("at", "")))
        )
    facts.sent_by = str(approval.get("approver") or approval.get("by") or "")
    facts.planned_at = raw.get("planned_at") or ""
    facts.finished_at = raw.get("finished_at") or ""
    facts.skipped = [(str(s.get("channel")), str(s.get("reason"))) for s in summary.get("skipped") or ()]
    follow = approval.get("follow_up") if isinstance(approval, dict) else None
    facts.root = str(follow.get("root")) if isinstance(follow, dict) and follow.get("root") else None
    start = raw["approved_at"] or facts.planned_at
    seen_text: set[tuple[str, str, str]] = set()
    # the replay's rows as they are: no record objects for a 100,000-recipient dispatch
    for key, d in collector.replay.plan_rows(dispatch_id):
        reach = facts.channels.setdefault(d.channel, ChannelReach())
        reach.planned += 1
        facts.retries += max(0, d.attempts - 1)
        state = d.state
        if state == "delivered":
            reach.delivered += 1
        elif state == "failed":
            reach.failed += 1
            reach.failures[
                " ".join(x for x in (d.last_code or "", d.last_reason or "") if x) or "unknown"
            ] += 1
        elif state == "skipped":
            reach.skipped += 1
        elif state == "cancelled":
            reach.cancelled += 1
        else:
            reach.pending += 1
        if (d.channel, d.language, d.body) not in seen_text:
            seen_text.add((d.channel, d.language, d.body))
            reach.texts.append((d.language, d.body))
        if start and key in raw["accepted"]:
            seconds = _seconds(start, raw["accepted"][key])
            reach.accept_s.append(seconds)
            reach.delivered_at_s.append(seconds)
        if start and key in raw["handset"]:
            reach.handset_s.append(_seconds(start, raw["handset"][key]))
    facts.in_doubt_resolved = list(raw["reconciled"])
    facts.forecast_vs_actual = _forecast_rows(collector, dispatch_id, summary.get("forecast"))
    return facts


def _forecast_rows(collector: _Collector, dispatch_id: str, forecast: Any) -> list[dict[str, Any]]:
    """The recorded forecast beside each channel's time from the plan's record to its last acceptance."""
    from crisiscast.dispatch.forecasting import forecast_vs_actual

    planned_at = collector.facts[dispatch_id].get("planned_at")
    if not forecast or not planned_at:
        return []
    accepted = collector.facts[dispatch_id]["accepted"]
    last: dict[str, float] = {}
    for rec in collector.replay.delivery_records(dispatch_id):
        at = accepted.get(rec.delivery.key)
        if at is not None:
            seconds = _seconds(planned_at, at)
            last[rec.delivery.channel] = max(seconds, last.get(rec.delivery.channel, seconds))
    return list(forecast_vs_actual(forecast, dict(last)))


async def build_report(
    store: AuditStore,
    dispatch_ids: Sequence[str] | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    key: Any = None,
    key_fingerprint: str | None = None,
    now: datetime,
) -> ReportData:
    """Verify the store and gather the facts of ``dispatch_ids`` (or of every original alert
    created between ``since`` and ``until``), with their follow-ups."""
    collector = _Collector()
    evidence = await verify_evidence(
        store, checkpoints, key, views=True, replay=collector.replay, extra=collector.feed
    )
    ids = list(dispatch_ids or ())
    if not ids:
        for dispatch_id, row in collector.replay.dispatches.items():
            created = datetime.fromisoformat(row.created_at)
            if (since is None or created >= since) and (until is None or created <= until):
                ids.append(dispatch_id)
    facts = [f for f in (_facts(i, collector) for i in ids) if f is not None]
    by_id = {f.dispatch_id: f for f in facts}
    for dispatch_id in collector.replay.dispatches:
        other = _facts(dispatch_id, collector) if dispatch_id not in by_id else by_id[dispatch_id]
        if other is None or other.root is None or other.root not in by_id or other.root == dispatch_id:
            continue
        kind = "all-clear" if str(other.message.get("msg_type")) == "Cancel" else "update"
        by_id[other.root].follow_ups.append((kind, dispatch_id, str(other.message.get("headline", ""))))
    return ReportData(facts, evidence, key_fingerprint, now.isoformat(timespec="seconds"))
