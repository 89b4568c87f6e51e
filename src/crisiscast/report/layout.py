"""The report as a list of blocks (headings, paragraphs, tables, charts), rendered by
``crisiscast.report.html`` and ``crisiscast.report.pdf`` alike, so both say the same.

Sections, and what a surveyor looks for in them (CMS 42 CFR 482.15(c), tag E-0032: alternate
means of communication used and reaching people; an exercise's after-action report and
improvement plan): the message and each channel's exact text; who drafted, approved and sent
it and when; reach per channel (planned, delivered, failed by reason); time to deliver;
retries and in-doubt deliveries; updates and the all-clear; confirmations; and a
verification block saying how to check the evidence offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crisiscast.report.forecast_blocks import forecast_blocks
from crisiscast.report.model import DispatchFacts, ReportData, percentile

__all__ = ["Block", "Series", "blocks", "title"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line of the delivery-over-time chart: seconds from approval of each delivery."""

    name: str
    seconds: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "h1", "h2", "p", "table", "chart", "mono"
    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    series: tuple[Series, ...] = field(default_factory=tuple)


SURVEYOR_MAP = (
    ("Alternate means of communication were used (CMS E-0032)", "Reach per channel"),
    (
        "The alternate means reached people, and how fast",
        "Reach per channel; Time to deliver; the chart; Forecast vs actual",
    ),
    ("Who authorised the message and when", "People and times"),
    ("What exactly was said on each channel", "Message and exact text"),
    ("Problems found (exercise evaluation, improvement plan)", "Failures by reason; Retries and in-doubt"),
    ("The incident was closed (all-clear)", "Updates and the all-clear"),
    ("The record is authentic and complete", "Verification"),
)


def title(data: ReportData) -> str:
    first = data.dispatches[0].message.get("headline", "") if data.dispatches else ""
    what = f"{len(data.dispatches)} dispatches" if len(data.dispatches) != 1 else str(first)
    return f"After-action report: {what}"


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _dispatch_blocks(d: DispatchFacts) -> list[Block]:
    m = d.message
    out = [
        Block("h2", f"Dispatch {d.dispatch_id}: {m.get('headline', '')}"),
        Block(
            "p",
            f"{m.get('status', '')} {m.get('msg_type', '')}, severity {m.get('severity', '')}, "
            f"state {d.state}.",
        ),
        Block("h2", "People and times"),
        Block(
            "table",
            headers=("role", "who", "when (UTC)"),
            rows=(
                ("drafted", d.drafted_by or "-", d.drafted_at or "-"),
                *(
                    ("approved" + (f" ({how})" if how else ""), who, when or "-")
                    for who, how, when in d.approvals
                ),
                ("sent (plan recorded)", d.sent_by or "-", d.planned_at or "-"),
                ("finished", "", d.finished_at or "not finished"),
            ),
        ),
        Block("h2", "Message and exact text"),
    ]
    for name, reach in sorted(d.channels.items()):
        for language, text in reach.texts[:4]:
            out.append(Block("p", f"{name} ({language}):"))
            out.append(Block("mono", text))
    out.append(Block("h2", "Reach per channel"))
    rows = [
        (
            name,
            str(r.planned),
            str(r.delivered),
            str(r.failed),
            str(r.skipped),
            str(r.cancelled),
            str(r.pending),
        )
        for name, r in sorted(d.channels.items())
    ]
    out.append(
        Block(
            "table",
            headers=("channel", "planned", "delivered", "failed", "skipped", "cancelled", "pending"),
            rows=tuple(rows),
        )
    )
    out.extend(Block("p", f"Not used: {name}: {reason}") for name, reason in d.skipped)
    failures = [
        (name, reason, str(n)) for name, r in sorted(d.channels.items()) for reason, n in r.failures.items()
    ]
    out.append(Block("h2", "Failures by reason"))
    if failures:
        out.append(Block("table", headers=("channel", "reason", "deliveries"), rows=tuple(failures)))
    else:
        out.append(Block("p", "No delivery failed."))
    out.append(Block("h2", "Time to deliver (from approval)"))
    timing = []
    for name, r in sorted(d.channels.items()):
        timing.append(
            (
                name,
                _fmt_s(percentile(r.accept_s, 50)),
                _fmt_s(percentile(r.accept_s, 95)),
                _fmt_s(max(r.accept_s) if r.accept_s else None),
                _fmt_s(percentile(r.handset_s, 50)) if r.handset_s else "no receipts",
            )
        )
    out.append(
        Block(
            "table",
            headers=("channel", "p50 to provider", "p95 to provider", "max to provider", "p50 to handset"),
            rows=tuple(timing),
        )
    )
    out.append(
        Block(
            "chart",
            "Deliveries accepted over time (cumulative, seconds from approval)",
            series=tuple(Series(n, tuple(sorted(r.delivered_at_s))) for n, r in sorted(d.channels.items())),
        )
    )
    out.extend(forecast_blocks(d))
    out.append(Block("h2", "Retries and in-doubt deliveries"))
    found = sum(1 for _, f in d.in_doubt_resolved if f)
    out.append(
        Block(
            "p",
            f"{d.retries} retries beyond the first attempt. {len(d.in_doubt_resolved)} in-doubt deliveries "
            f"were resolved by asking the provider ({found} found delivered, "
            f"{len(d.in_doubt_resolved) - found} not found and sent again or failed).",
        )
    )
    out.append(Block("h2", "Updates and the all-clear"))
    if d.follow_ups:
        out.append(
            Block(
                "table", headers=("kind", "dispatch", "headline"), rows=tuple(tuple(f) for f in d.follow_ups)
            )
        )
    else:
        out.append(Block("p", "No Update or all-clear was sent for this alert."))
    out.append(Block("h2", "Confirmations and non-responders"))
    out.append(Block("p", "Not recorded: crisiscast does not run a roll-call, so no confirmations exist."))
    return out


def _verification_blocks(data: ReportData) -> list[Block]:
    ev = data.evidence
    verdict = "OK" if ev.ok else "BROKEN"
    out = [Block("h1", "Verification"), Block("p", f"Audit verification at {data.generated_at}: {verdict}.")]
    out.extend(Block("p", f"Problem: {p}") for p in ev.problems)
    out.extend(Block("p", f"Note: {w}") for w in ev.warnings)
    rows = [
        ("events verified", str(ev.events)),
        ("store id", ev.store_id),
        ("signed checkpoints", str(ev.checkpoints)),
    ]
    if ev.newest is not None:
        rows += [
            ("newest checkpoint", f"event {ev.newest.seq} at {ev.newest.at}"),
            ("its chain head", ev.newest.head),
            ("signing key", ev.newest.key),
        ]
    out.append(Block("table", headers=("", ""), rows=tuple(rows)))
    ids = " ".join(d.dispatch_id for d in data.dispatches[:1]) or "DISPATCH_ID"
    out.append(
        Block(
            "p",
            "To check this offline, without crisiscast's database: ask for the export and the public key "
            "(its fingerprint is above), then run",
        )
    )
    out.append(
        Block(
            "mono",
            f"crisiscast audit export {ids} --out audit.jsonl\n"
            "crisiscast audit verify audit.jsonl --public-key audit-signing.key.pub",
        )
    )
    return out


def blocks(data: ReportData) -> list[Block]:
    """Every block of the report, in order."""
    out = [
        Block("h1", title(data)),
        Block("p", f"Generated {data.generated_at} from the verified audit events."),
    ]
    if data.exercise:
        out.append(Block("p", "This was an EXERCISE: no real emergency. Every page of this report says so."))
    out.append(Block("h2", "What surveyors ask for, and where it is"))
    out.append(Block("table", headers=("question", "section"), rows=SURVEYOR_MAP))
    for d in data.dispatches:
        out.extend(_dispatch_blocks(d))
    out.extend(_verification_blocks(data))
    return out
