"""Resume of a plan that a crash cut short between two of its chunks.

A plan written in several chunks (``crisiscast.dispatch.chunks``) records
``plan_complete: false`` in its ``dispatch_planned`` event and a ``dispatch_plan_completed`` event
after its last chunk. When a dispatch has the first but not the second, some recipients were
never planned: ``complete_plan`` renders the message again with the same dispatch id and
render context (``plan_render``: reply-to ids, the PHI override, the render time), checks
that every channel renders exactly what was planned (the recorded counts, and every stored
delivery among the rendered ones), appends the missing deliveries chunk by chunk and records
``dispatch_plan_completed``. Delivery keys are deterministic, so a recipient is never planned twice,
and none is left out.

Failure modes: when a channel cannot be built now, cannot render now (its contacts file,
which a resume reads only here, is unreadable), or renders something else than was planned
(its contacts changed since), its missing deliveries are not guessed: the stored
ones are resumed, the plan stays incomplete (a later resume tries again) and the returned
reason says what was not sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import structlog

from crisiscast.audit.base import AuditStore, DispatchRecord
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.paging import iter_deliveries
from crisiscast.channels.base import Channel, RenderContext
from crisiscast.delivery import Delivery
from crisiscast.dispatch.chunks import delivery_events
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.dispatch.plan import render_all
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage

__all__ = ["complete_plan", "partial_plans", "plan_cut_short", "render_context"]

log = structlog.get_logger(__name__)


def plan_cut_short(record: DispatchRecord) -> bool:
    """Was this dispatch's plan written in chunks and never completed?"""
    return record.summary.get("plan_complete") is False


async def partial_plans(store: AuditStore, *, limit: int = 1000) -> list[DispatchRecord]:
    """The dispatches (of the newest ``limit``) whose plan a crash cut short and that never
    finished (one resumed without completing its plan is resumed again only by its id)."""
    return [r for r in await store.dispatches(limit=limit) if r.state == "planned" and plan_cut_short(r)]


def render_context(record: DispatchRecord) -> RenderContext:
    """The render context a chunked plan recorded (``plan_render``), for rendering it again."""
    facts = record.summary.get("plan_render")
    facts = facts if isinstance(facts, Mapping) else {}
    reply_to = facts.get("reply_to")
    override = facts.get("phi_override")
    now = facts.get("now")
    return RenderContext(
        dispatch_id=record.dispatch_id,
        now=datetime.fromisoformat(now) if isinstance(now, str) else datetime.now(UTC),
        reply_to={str(k): str(v) for k, v in reply_to.items()} if isinstance(reply_to, Mapping) else {},
        phi_override=None if override is None else str(override),
    )


async def complete_plan(
    store: AuditStore,
    record: DispatchRecord,
    message: CrisisMessage,
    channels: Sequence[Channel],
    *,
    chunk_size: int,
) -> dict[str, str]:
    """Plan what a crash left unplanned; returns channel → why it could not (empty: done)."""
    if not plan_cut_short(record):
        return {}
    dispatch_id = record.dispatch_id
    raw_counts = record.summary.get("counts")
    counts = {str(k): int(v) for k, v in raw_counts.items()} if isinstance(raw_counts, Mapping) else {}
    stored: dict[str, set[str]] = {name: set() for name in counts}
    async for rec in iter_deliveries(store, dispatch_id):
        stored.setdefault(rec.delivery.channel, set()).add(rec.delivery.key)
    short = {name for name, n in counts.items() if len(stored[name]) < n}
    built = [c for c in channels if c.name in short]
    problems: dict[str, str] = {}
    for name in short - {c.name for c in built}:
        problems[name] = _not_sent(
            dispatch_id, name, counts[name] - len(stored[name]), "the channel cannot be built now"
        )
    _, rendered, failed = render_all(message, built, render_context(record))
    for failure in failed:  # e.g. its contacts file, read now, is unreadable
        why = f"it cannot render the message now: {failure.reason}"
        problems[failure.channel] = _not_sent(
            dispatch_id, failure.channel, counts[failure.channel] - len(stored[failure.channel]), why
        )
    missing: list[Delivery] = []
    for name in sorted(short & rendered.keys() - problems.keys(), key=lambda n: counts[n]):
        ds = rendered[name]
        keys = {d.key for d in ds}
        if len(ds) != counts[name] or not stored[name] <= keys:
            why = f"its recipients changed since the plan was made ({counts[name]} planned, {len(ds)} now)"
            problems[name] = _not_sent(dispatch_id, name, counts[name] - len(stored[name]), why)
            continue
        missing.extend(d for d in ds if d.key not in stored[name])
    size = max(1, chunk_size)
    for start in range(0, len(missing), size):
        if start:
            failpoint("between_plan_chunks")
        await store.append(delivery_events(dispatch_id, missing[start : start + size]))
    if not problems:
        data: JsonObject = {"deliveries": sum(counts.values()), "completed_on_resume": len(missing)}
        await store.append([AuditEvent(EventKind.DISPATCH_PLAN_COMPLETED, dispatch_id, data)])
    log.info("plan_completed_on_resume", dispatch_id=dispatch_id, added=len(missing), problems=len(problems))
    return problems


def _not_sent(dispatch_id: str, channel: str, count: int, why: str) -> str:
    return (
        f"{count} {channel} recipient(s) not sent: the plan was cut short by a crash and cannot be "
        f"completed ({why}); fix that and run crisiscast resume {dispatch_id}"
    )
