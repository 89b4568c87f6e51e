"""``POST /v1/alerts``: the signed webhook through which an alerting system triggers a broadcast.

In order, each step answering before the next costs anything:

1. ``Content-Length`` over ``server.body_max_bytes`` → 413, before reading the body;
2. a content type other than JSON or CAP XML → 415;
3. the body is read up to the cap (a chunked body that grows past it → 413);
4. Standard Webhooks verification over the raw bytes → 401 (``crisiscast.server.webhook``);
5. parsing and validation → 422 with the precise reason (``crisiscast.server.alert_body``);
6. ``webhook-id`` → dispatch id, bound ONCE in the audit store (``bind_key``): the same id
   again, from any process, returns the same dispatch and never starts a second one. In one
   process, concurrent duplicates wait for the first one's answer;
7. a pre-approved template → planned (plan + approval persisted) and run in the background:
   202 ``{"dispatch_id", "status_url", "state": "dispatching"}``; free text (or a template
   whose plan a policy refuses, a template Update or Cancel — those are sent with
   ``crisiscast update``/``cancel`` so they reach exactly the original's recipients — or any
   template when the policy requires approvers for templates) → a draft in the audit
   (``draft_created``, author ``webhook:<sender>``, source ``webhook``), 202 with
   ``"state": "awaiting_approval"`` and the reason; never sent until approved.

A key bound by a process that died (or whose store failed) before persisting its plan or
draft is orphaned: nothing was planned or drafted under its dispatch id. A retry of that
webhook more than ``RECLAIM_AFTER_S`` seconds after the binding takes it over atomically
(``bind_key(..., reclaim_after_s=...)``: only one retry wins, in any process) and plans or
drafts under the SAME dispatch id, so the alert is not lost. A retry sooner than that, or
once a plan or draft exists, is a duplicate: 202 with the current state (``"accepted"``
while nothing is recorded yet) and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import uuid
from datetime import UTC, datetime

import structlog
from aiohttp import web

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.clock import rebase_sender_clock
from crisiscast.errors import StoreError, UserError
from crisiscast.jsontypes import JsonObject
from crisiscast.lifecycle.drafts import now_iso
from crisiscast.message import MsgType
from crisiscast.server.alert_body import JSON_TYPES, XML_TYPES, AlertRejected, ParsedAlert, parse_alert_body
from crisiscast.server.context import CONTEXT, ServerContext, error_response
from crisiscast.server.refusals import TOO_MANY, auth_failed, log_refusal
from crisiscast.server.runner import ShuttingDown
from crisiscast.server.status_view import progress_document
from crisiscast.server.webhook import WebhookRejected

__all__ = ["add_intake_routes"]

log = structlog.get_logger(__name__)

_HOST = socket.gethostname()

# How old a webhook's binding must be before a retry may take it over when nothing was planned
# or drafted under it. Far longer than any planning takes (a store write and rendering, well
# under a second), so a live planner in another process is never overtaken.
RECLAIM_AFTER_S = 60.0
_INFLIGHT = web.AppKey("crisiscast_inflight_webhooks", dict)


class _TooLarge(Exception):
    """The body grew past the cap while it was read (a chunked body without Content-Length)."""


async def _read_capped(request: web.Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)


async def post_alert(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    started_s = time.perf_counter()
    max_bytes = ctx.settings.server.body_max_bytes
    too_large = f"The body is larger than {max_bytes} bytes; send a shorter alert."
    if request.content_length is not None and request.content_length > max_bytes:
        ctx.metrics.webhooks.labels(result="rejected_413").inc()
        log_refusal(request, 413, "body over body_max_bytes")
        return error_response(413, too_large, Connection="close")
    content_type = request.content_type
    if content_type not in JSON_TYPES | XML_TYPES:
        ctx.metrics.webhooks.labels(result="rejected_415").inc()
        log_refusal(request, 415, f"content type {content_type[:60]!r}")
        return error_response(
            415, "Send application/json, application/cap+xml or application/xml.", Accept="application/json"
        )
    try:
        body = await _read_capped(request, max_bytes)
    except _TooLarge:
        ctx.metrics.webhooks.labels(result="rejected_413").inc()
        log_refusal(request, 413, "body over body_max_bytes")
        return error_response(413, too_large, Connection="close")
    try:
        verified = ctx.verifier.verify(request.headers, body)
    except WebhookRejected as exc:
        retry_after_s = auth_failed(request, ctx.auth_failures, str(exc))
        if retry_after_s is not None:
            ctx.metrics.webhooks.labels(result="rejected_429").inc()
            return error_response(429, TOO_MANY, **{"Retry-After": str(retry_after_s)})
        ctx.metrics.webhooks.labels(result="rejected_401").inc()
        return error_response(401, str(exc))
    try:
        known = {**ctx.settings.audiences, **dict.fromkeys(ctx.settings.roster.audiences, ())}
        parsed = parse_alert_body(content_type, body, ctx.catalog, known)
        parsed = _on_our_clock(parsed, ctx.settings.server.sender_clock_skew_s)
        await _someone_on_duty(ctx, parsed)
    except AlertRejected as exc:
        ctx.metrics.webhooks.labels(result="rejected_422").inc()
        log_refusal(request, 422, str(exc)[:300])
        return error_response(422, str(exc))
    inflight: dict[str, asyncio.Future[JsonObject]] = request.app[_INFLIGHT]
    existing = inflight.get(verified.webhook_id)
    if existing is not None:
        answer = dict(await asyncio.shield(existing))
        answer["duplicate"] = True
        ctx.metrics.webhooks.labels(result="duplicate").inc()
        return web.json_response(answer, status=202)
    future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
    inflight[verified.webhook_id] = future
    try:
        answer = await _accept(ctx, verified.webhook_id, parsed)
        future.set_result(answer)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # marks it retrieved: waiters re-raise it themselves
        raise
    finally:
        inflight.pop(verified.webhook_id, None)
    ctx.metrics.intake_latency.labels(kind=parsed.kind).observe(time.perf_counter() - started_s)
    return web.json_response(answer, status=202)


async def _someone_on_duty(ctx: ServerContext, parsed: ParsedAlert) -> None:
    """``AlertRejected`` when a roster audience resolves to nobody now (``crisiscast.roster``)."""
    from crisiscast.roster.preview import preview_audiences

    # reads the contacts (and maybe fetches the schedule) off the event loop
    people = await asyncio.to_thread(preview_audiences, parsed.message, ctx.settings, roster_only=True)
    if people.refusal is not None:
        raise AlertRejected(people.refusal)


def _on_our_clock(parsed: ParsedAlert, skew_s: float) -> ParsedAlert:
    """The alert re-based on its receipt when the sender's clock is out of ``skew_s``
    (``crisiscast.clock``); ``AlertRejected`` when it has expired by the time it arrived."""
    now = datetime.now(UTC)
    message, note = rebase_sender_clock(parsed.message, now=now, skew_s=skew_s)
    if message.expires is not None and message.expires <= now:
        raise AlertRejected(
            f"The alert expired at {message.expires.isoformat()}, before it arrived; nothing was sent. "
            "Send it again with a later expires."
        )
    if note is None:
        return parsed
    log.warning("webhook_sender_clock_rebased", note=note)
    return dataclasses.replace(parsed, message=message, clock_note=note)


async def _accept(ctx: ServerContext, webhook_id: str, parsed: ParsedAlert) -> JsonObject:
    new_id = f"d-{uuid.uuid4().hex}"
    try:
        dispatch_id, created = await ctx.store.bind_key(
            "webhook:" + webhook_id, new_id, reclaim_after_s=RECLAIM_AFTER_S
        )
    except StoreError as exc:
        raise web.HTTPServiceUnavailable(
            text=f'{{"error": "The audit store is unavailable ({_clean(exc)}); retry shortly."}}',
            content_type="application/json",
        ) from None
    answer: JsonObject = {"dispatch_id": dispatch_id, "status_url": ctx.status_url(dispatch_id)}
    bound = log.bind(dispatch_id=dispatch_id, webhook_id=webhook_id)
    if not created:
        # counted in the database: a retried webhook of a whole-system alert stays a small read
        progress = await progress_document(ctx.store, dispatch_id)
        answer["state"] = progress["state"] if progress is not None else "accepted"
        answer["duplicate"] = True
        ctx.metrics.webhooks.labels(result="duplicate").inc()
        bound.info("webhook_duplicate")
        return answer
    if dispatch_id != new_id:
        bound.warning("webhook_binding_reclaimed", reclaim_after_s=RECLAIM_AFTER_S)
    message = parsed.message
    author = f"webhook:{message.sender}"
    reason = _hold_reason(ctx, parsed)
    if not reason:
        approval: JsonObject = {
            "approver": author,
            "method": "pre_approved_template",
            "rule": "template",
            "source": "webhook",
            "webhook_id": webhook_id,
            "template": message.template.model_dump() if message.template else None,
            "host": _HOST,
            "at": now_iso(),
        }
        if parsed.clock_note:
            approval["sender_clock"] = parsed.clock_note
        try:
            await ctx.runner.start(message, dispatch_id=dispatch_id, approval=approval, source="webhook")
        except UserError as exc:
            reason = f"A channel refused the message ({exc}); it is held for an operator to review."
        except ShuttingDown:
            reason = "The server was shutting down; the alert is held for an operator to send."
        else:
            ctx.metrics.webhooks.labels(result="accepted").inc()
            bound.info("webhook_dispatching", template=message.template.id if message.template else None)
            answer["state"] = "dispatching"
            return answer
    data = {
        "message": message.model_dump(mode="json"),
        "author": author,
        "source": "webhook",
        "webhook_id": webhook_id,
        "reason": reason,
        "host": _HOST,
        "at": now_iso(),
    }
    if parsed.clock_note:
        data["sender_clock"] = parsed.clock_note
    await ctx.store.append([AuditEvent(kind=EventKind.DRAFT_CREATED, dispatch_id=dispatch_id, data=data)])
    ctx.metrics.webhooks.labels(result="draft").inc()
    bound.info("webhook_draft", reason=reason)
    answer["state"] = "awaiting_approval"
    answer["reason"] = reason
    return answer


def _hold_reason(ctx: ServerContext, parsed: ParsedAlert) -> str:
    """Why an authentic alert is held as a draft instead of dispatched ("" when it is not)."""
    if not parsed.from_template:
        return "Free text is not a pre-approved template; it is held until approved with crisiscast approve."
    if parsed.message.msg_type is not MsgType.ALERT:
        return (
            f"A {parsed.message.msg_type.value} is held for an operator to send with crisiscast update or "
            "cancel, which reach exactly the original's recipients."
        )
    if ctx.settings.policy.template_approvers > 0:
        return "The policy requires approvers for templates; approve it with crisiscast approve."
    return ""


def _clean(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def add_intake_routes(app: web.Application) -> None:
    """Register ``POST /v1/alerts``."""
    app[_INFLIGHT] = {}
    app.router.add_post("/v1/alerts", post_alert)
