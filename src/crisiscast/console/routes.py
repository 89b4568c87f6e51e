"""The console's pages and actions under ``/console``.

Read pages are GETs; every action is a POST form that needs a live session and the session's
CSRF token (``crisiscast.console.csrf``), checked before anything is done. Actions call the
same services as the HTTP API and the CLI (``crisiscast.lifecycle`` through
``crisiscast.server.lifecycle_api``; the server's ``DispatchRunner`` sends), with the signed-in
person as author, approver or sender and ``via: "console"`` in the audit.

Failures are one plain sentence on an error page (with the HTTP status that fits): no
session (303 to sign-in for pages, 401 for actions), a bad CSRF token (403), a policy refusal
(403), an unknown id (404), a draft already sent (409), an invalid message or template value
(422), an Actual free-text message that fails the quality gate sent without a reason in the
override box (422, with the findings listed; the reason, when given, is in the audit), a
server shutting down (503).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from crisiscast.audit.events import EventKind
from crisiscast.channels.registry import specs
from crisiscast.cli.preview import build_preview, confirmation_question
from crisiscast.console import csrf
from crisiscast.console.i18n import TEXT, pick_language
from crisiscast.console.session import COOKIE, Session, SessionStore, set_cookie
from crisiscast.console.views import board_of, render, render_fragment, rollcall_of
from crisiscast.dispatch import new_dispatch_id
from crisiscast.errors import PolicyError, UserError
from crisiscast.jsontypes import json_object
from crisiscast.lifecycle.approval import verdict
from crisiscast.lifecycle.drafts import (
    approve_draft,
    create_draft,
    load_draft,
    message_sha256,
    rule_of,
)
from crisiscast.message import CrisisMessage, Status
from crisiscast.read_pacing import next_read_in_s
from crisiscast.roster.audiences import audience_labels
from crisiscast.server.context import CONTEXT, ServerContext
from crisiscast.server.lifecycle_api import Refused, cancel_dispatch, dispatch_draft, follow_up
from crisiscast.server.quality_gate import QualityRefused, override_from
from crisiscast.server.runner import ShuttingDown
from crisiscast.server.status_view import sms_receipts
from crisiscast.templates import TemplateError

__all__ = ["SESSIONS", "add_routes"]

SESSIONS = web.AppKey("crisiscast_console_sessions", SessionStore)
_CLOSING = web.AppKey("crisiscast_console_closing", asyncio.Event)
Handler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = structlog.get_logger(__name__)
BOARD_POLL_S = 0.5  # how often the live board re-reads the store
STREAM_MAX_S = 300.0  # a board stream ends after this; the browser reconnects by itself
_NO_SESSION = "You are not signed in (or your session expired); sign in with your API token and try again."
_BAD_CSRF = (
    "This form had expired or did not come from this console, so nothing was done; "
    "reload the page and try again."
)


class _Failed(Exception):
    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


def _ctx(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]


def _session(request: web.Request) -> Session | None:
    return request.app[SESSIONS].get(request.cookies.get(COOKIE))


def page(handler: Handler) -> Route:
    """A page for a signed-in person (else 303 to the sign-in page)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = _session(request)
        if session is None:
            raise web.HTTPSeeOther("/console/sign-in")
        return await _guarded(handler, request, session)

    return wrapped


def action(handler: Handler) -> Route:
    """A form action: a live session and its CSRF token, checked before anything is done."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = _session(request)
        if session is None:
            return render(request, "error.html", None, status=401, sentence=_NO_SESSION)
        form = await request.post()
        if not csrf.check(session.csrf, form.get(csrf.FIELD)):
            return render(request, "error.html", session, status=403, sentence=_BAD_CSRF)
        return await _guarded(handler, request, session)

    return wrapped


async def _guarded(handler: Handler, request: web.Request, session: Session) -> web.StreamResponse:
    try:
        return await handler(request, session)
    except _Failed as exc:
        return render(request, "error.html", session, status=exc.status, sentence=exc.sentence)
    except QualityRefused as exc:
        return render(
            request, "error.html", session, status=exc.status, sentence=exc.sentence, findings=exc.findings
        )
    except Refused as exc:
        return render(request, "error.html", session, status=exc.status, sentence=exc.sentence)
    except PolicyError as exc:
        return render(request, "error.html", session, status=403, sentence=str(exc))
    except TemplateError as exc:
        return render(request, "error.html", session, status=422, sentence=str(exc))
    except ShuttingDown:
        return render(
            request,
            "error.html",
            session,
            status=503,
            sentence="The server is shutting down; open the console on another one.",
        )
    except UserError as exc:
        return render(request, "error.html", session, status=409, sentence=str(exc))


# -- sign-in ------------------------------------------------------------------------------


async def sign_in_form(request: web.Request, *, error: str = "", status: int = 200) -> web.StreamResponse:
    token = csrf.new_token()
    response = render(request, "sign_in.html", None, status=status, csrf_token=token, error=error)
    csrf.set_pre_cookie(request, response, token)
    return response


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not csrf.check(request.cookies.get(csrf.PRE_COOKIE), form.get(csrf.FIELD)):
        return await sign_in_form(request, error=_BAD_CSRF, status=403)
    token = str(form.get("token") or "").strip()
    entry = _ctx(request).api_tokens.match(f"Bearer {token}") if token else None
    if entry is None:
        return await sign_in_form(
            request,
            error="That token is not one of the configured API tokens; check it and try again.",
            status=401,
        )
    if entry.name is None:
        return await sign_in_form(
            request,
            error="That is a machine token, which names no person; sign in with your own name=token token.",
            status=403,
        )
    cookie, _ = request.app[SESSIONS].start(entry.name)
    response = web.HTTPSeeOther("/console/compose")
    set_cookie(response, request, COOKIE, cookie)
    response.del_cookie(csrf.PRE_COOKIE, path="/console")
    raise response


@action
async def sign_out(request: web.Request, me: Session) -> web.StreamResponse:
    request.app[SESSIONS].end(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/console/sign-in")
    response.del_cookie(COOKIE, path="/console")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console/compose" if _session(request) else "/console/sign-in")


# -- compose ------------------------------------------------------------------------------


def _channel_names(ctx: ServerContext) -> list[str]:
    return [s.name for s in specs() if s.enabled(ctx.settings)]


@page
async def compose_form(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    template_id = request.query.get("template", "")
    template = ctx.catalog.get(template_id) if template_id in ctx.catalog else None
    return render(
        request,
        "compose.html",
        me,
        csrf_token=me.csrf,
        templates=ctx.catalog.all(),
        template=template,
        audiences=audience_labels(ctx.settings),
        channels=_channel_names(ctx),
        translations=_translation_languages(ctx),
        exercise=request.query.get("status") == "Exercise",
    )


def _translation_languages(ctx: ServerContext) -> list[str]:
    """The languages besides English the audiences may need (``[preflight]``): the free-text
    form offers their words, so a console alert can cover them and pass the quality gate."""
    preflight = ctx.settings.preflight
    per_audience = [lang for langs in preflight.audience_languages.values() for lang in langs]
    wanted = [*preflight.required_languages, *per_audience]
    return [lang for lang in dict.fromkeys(wanted) if lang != "en"]


def _translations_from_form(ctx: ServerContext, form: Any) -> dict[str, dict[str, str]]:
    """The free-text form's words in other languages; a language whose headline is empty is left out."""
    out: dict[str, dict[str, str]] = {}
    for lang in _translation_languages(ctx):
        fields = ("headline", "instruction", "description")
        words = {f: str(form.get(f"{lang}_{f}") or "").strip() for f in fields}
        if words["headline"]:
            out[lang] = {k: v for k, v in words.items() if v}
    return out


def _message_from_form(ctx: ServerContext, form: Any) -> tuple[CrisisMessage, str]:
    """The message the compose form describes, and the draft's source (template or console)."""
    status = Status.EXERCISE if form.get("status") == "Exercise" else Status.ACTUAL
    defined = audience_labels(ctx.settings)
    audiences = [str(a) for a in form.getall("audience", []) if str(a) in defined]
    if not audiences:
        raise _Failed(422, "Choose at least one audience; nothing was drafted.")
    known = _channel_names(ctx)
    chosen = [str(c) for c in form.getall("channel", []) if str(c) in known]
    if not chosen:
        raise _Failed(422, "Choose at least one channel; nothing was drafted.")
    channels = None if set(chosen) == set(known) else chosen
    template_id = str(form.get("template") or "")
    if template_id:
        if template_id not in ctx.catalog:
            raise _Failed(
                422, f"There is no approved template {template_id[:80]!r}; choose one from the list."
            )
        template = ctx.catalog.get(template_id)
        values = {name: str(form.get(f"var_{name}") or "") for name in template.variables}
        values = {k: v for k, v in values.items() if v != ""}
        message = template.render(values, status=status, audiences=audiences, channels=channels)
        return message, "template"
    data = {
        "status": status.value,
        "headline": str(form.get("headline") or "").strip(),
        "event": str(form.get("event") or "").strip(),
        "description": str(form.get("description") or "").strip(),
        "instruction": str(form.get("instruction") or "").strip(),
        "translations": _translations_from_form(ctx, form),
        "audiences": audiences,
        "channels": channels,
    }
    try:
        return CrisisMessage.model_validate(data), "console"
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "message"
        raise _Failed(422, f"The message is invalid: {where}: {err['msg']}; nothing was drafted.") from None


@action
async def compose(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    message, source = _message_from_form(ctx, await request.post())
    draft_id = await create_draft(ctx.store, message, author=me.name, source=source)
    raise web.HTTPSeeOther(f"/console/drafts/{draft_id}")


# -- drafts -------------------------------------------------------------------------------


async def _known(ctx: ServerContext, dispatch_id: str) -> None:
    if await ctx.store.dispatch(dispatch_id) is None:
        raise _Failed(404, f"There is no draft or dispatch {dispatch_id[:80]!r}; check the id.")


@page
async def draft_page(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    draft_id = request.match_info["draft_id"]
    await _known(ctx, draft_id)
    draft = await load_draft(ctx.store, draft_id)
    if draft.state != "draft":
        raise web.HTTPSeeOther(f"/console/dispatches/{draft_id}")
    preview = build_preview(draft.message, ctx.settings, secrets=ctx.secrets)
    rule = rule_of(draft, ctx.settings.policy, ctx.catalog)
    needs = verdict(draft_id, draft.author, draft.approvers, rule, ctx.settings.policy)
    name = me.name
    from crisiscast.lifecycle.identity import same_person

    return render(
        request,
        "draft.html",
        me,
        csrf_token=me.csrf,
        draft=draft,
        preview=preview,
        question=confirmation_question(preview),
        digest=message_sha256(draft.message),
        needs=needs,
        mine=same_person(name, draft.author),
        approved_by_me=any(same_person(name, a) for a in draft.approvers),
        exercise=draft.message.status is not Status.ACTUAL,
        quality_override_needed=(
            draft.message.status is Status.ACTUAL
            and draft.message.template is None
            and not preview.quality.get("passed", True)
        ),
    )


@action
async def approve(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    draft_id = request.match_info["draft_id"]
    await _known(ctx, draft_id)
    form = await request.post()
    draft = await load_draft(ctx.store, draft_id)
    if str(form.get("message_sha256") or "") != message_sha256(draft.message):
        raise _Failed(
            409, "The draft's words are not the ones you were shown; nothing was approved. Reload it."
        )
    await approve_draft(ctx.store, draft_id, me.name, ctx.settings.policy, ctx.catalog, via="console")
    raise web.HTTPSeeOther(f"/console/drafts/{draft_id}")


@action
async def send(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    draft_id = request.match_info["draft_id"]
    await _known(ctx, draft_id)
    form = await request.post()
    override = override_from(form.get("quality_override"), field="quality_override")
    await dispatch_draft(ctx, draft_id, me.name, "console", quality_override=override)
    raise web.HTTPSeeOther(f"/console/dispatches/{draft_id}")


@action
async def discard(request: web.Request, me: Session) -> web.StreamResponse:
    draft_id = request.match_info["draft_id"]
    await _known(_ctx(request), draft_id)
    draft = await load_draft(_ctx(request).store, draft_id)
    if draft.state != "draft":
        raise _Failed(
            409, f"{draft_id} is not a draft any more (it is {draft.state}); nothing was discarded."
        )
    name = me.name
    await cancel_dispatch(
        request.app, draft_id, operator=name, reason=f"discarded by {name}", spec=False, via="console"
    )
    raise web.HTTPSeeOther("/console/compose")


# -- the board ----------------------------------------------------------------------------


@page
async def board_page(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    dispatch_id = request.match_info["dispatch_id"]
    record = await ctx.store.dispatch(dispatch_id)
    board = await board_of(ctx.store, dispatch_id)
    message = dict(record.message) if record is not None else {}
    rollcall = await rollcall_of(ctx.store, dispatch_id)
    return render(
        request,
        "board.html",
        me,
        csrf_token=me.csrf,
        dispatch_id=dispatch_id,
        board=board,
        message=message,
        rollcall=rollcall,
        exercise=message.get("status", "Actual") != "Actual",
        notice_all_clear=request.query.get("all_clear", ""),
    )


@page
async def board_events(request: web.Request, me: Session) -> web.StreamResponse:
    """Server-sent events: the board's HTML each time it changes; ``end`` when it is settled."""
    ctx = _ctx(request)
    dispatch_id = request.match_info["dispatch_id"]
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await stream.prepare(request)
    closing = request.app[_CLOSING]
    last = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_MAX_S
    rollcall: dict[str, object] | None = None
    rollcall_due = loop.time()
    while not closing.is_set() and loop.time() < deadline:
        # each part is read again after BOARD_POLL_S, or after nine times what reading it cost,
        # so an open board takes a sending process about a tenth of its time at most; the counts
        # (a small read in the database) stay live while a large roll-call (rebuilt from the
        # events) is read less often
        started = loop.time()
        board = await board_of(ctx.store, dispatch_id)
        pause_s = next_read_in_s(BOARD_POLL_S, loop.time() - started)
        if loop.time() >= rollcall_due:
            started = loop.time()
            rollcall = await rollcall_of(ctx.store, dispatch_id)
            rollcall_due = loop.time() + next_read_in_s(BOARD_POLL_S, loop.time() - started)
        html = render_fragment(
            request, "_board.html", me, board=board, dispatch_id=dispatch_id, rollcall=rollcall
        )
        if html != last:
            last = html
            data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
            await stream.write((data + "\n").encode())
        if board is not None and board.finished:
            await stream.write(b"event: end\ndata: settled\n\n")
            break
        try:
            await asyncio.wait_for(closing.wait(), pause_s)
        except TimeoutError:
            continue  # poll again
    return stream


@action
async def update(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    dispatch_id = request.match_info["dispatch_id"]
    await _known(ctx, dispatch_id)
    form = await request.post()
    record = await ctx.store.dispatch(dispatch_id)
    status = str(record.message.get("status", "Actual")) if record is not None else "Actual"
    message = {"status": status, "headline": str(form.get("headline") or "").strip()}
    if form.get("instruction"):
        message["instruction"] = str(form["instruction"]).strip()
    answer = await follow_up(
        ctx,
        dispatch_id,
        "update",
        operator=me.name,
        spec={"message": message},
        draft_id=new_dispatch_id(),
        via="console",
    )
    where = "drafts" if answer["state"] == "awaiting_approval" else "dispatches"
    raise web.HTTPSeeOther(f"/console/{where}/{answer['dispatch_id']}")


@action
async def cancel(request: web.Request, me: Session) -> web.StreamResponse:
    dispatch_id = request.match_info["dispatch_id"]
    form = await request.post()
    name = me.name
    reason = str(form.get("reason") or "").strip()[:500] or f"cancelled by {name}"
    spec: Any = {"template": "all-clear"} if form.get("all_clear") == "yes" else False
    answer = await cancel_dispatch(
        request.app, dispatch_id, operator=name, reason=reason, spec=spec, via="console"
    )
    all_clear = json_object(answer.get("all_clear")).get("dispatch_id", "")
    raise web.HTTPSeeOther(
        f"/console/dispatches/{dispatch_id}" + (f"?all_clear={all_clear}" if all_clear else "")
    )


# -- review -------------------------------------------------------------------------------


_PEOPLE_FIELDS = ("author", "approver", "sender", "who")


async def _people(ctx: ServerContext, dispatch_id: str) -> set[str]:
    found: set[str] = set()
    async for stored in ctx.store.events(dispatch_id):
        for key in _PEOPLE_FIELDS:
            value = stored.event.data.get(key)
            if isinstance(value, str):
                found.add(value.casefold())
    return found


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise _Failed(400, f"{value[:20]!r} is not a date; use YYYY-MM-DD.") from None


@page
async def audit_list(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    q = request.query
    since, until = _day(q.get("from", "")), _day(q.get("to", ""))
    state, channel, person = q.get("state", ""), q.get("channel", ""), q.get("person", "").strip()
    rows = []
    for record in await ctx.store.dispatches(limit=500):
        day = record.created_at.date()
        if (since and day < since) or (until and day > until) or (state and record.state != state):
            continue
        deliveries = await ctx.store.deliveries(record.dispatch_id)
        channels = sorted({d.delivery.channel for d in deliveries})
        if channel and channel not in channels:
            continue
        if person and person.casefold() not in await _people(ctx, record.dispatch_id):
            continue
        rows.append((record, channels))
    return render(
        request,
        "audit.html",
        me,
        rows=rows,
        filters={
            "from": q.get("from", ""),
            "to": q.get("to", ""),
            "state": state,
            "channel": channel,
            "person": person,
        },
        states=("draft", "planned", "finished", "cancelled"),
        channels=_channel_names(ctx),
    )


@page
async def audit_record(request: web.Request, me: Session) -> web.StreamResponse:
    ctx = _ctx(request)
    dispatch_id = request.match_info["dispatch_id"]
    record = await ctx.store.dispatch(dispatch_id)
    if record is None:
        raise _Failed(404, f"There is no draft or dispatch {dispatch_id[:80]!r}; check the id.")
    events = [
        (
            s.event.kind.value,
            s.event.at.isoformat(timespec="seconds"),
            json.dumps(s.event.data, indent=1, ensure_ascii=False, default=str),
            " · ".join(str(s.event.data[k]) for k in _PEOPLE_FIELDS if isinstance(s.event.data.get(k), str)),
        )
        async for s in ctx.store.events(dispatch_id)
    ]
    approvals = [
        e for e in events if e[0] in (EventKind.APPROVAL_RECORDED.value, EventKind.APPROVAL_REFUSED.value)
    ]
    return render(
        request,
        "record.html",
        me,
        record=record,
        events=events,
        approvals=approvals,
        deliveries=await ctx.store.deliveries(dispatch_id),
        receipts=await sms_receipts(ctx.store, dispatch_id),
        exercise=record.message.get("status", "Actual") != "Actual",
    )


@page
async def audit_verify(request: web.Request, me: Session) -> web.StreamResponse:
    result = await _ctx(request).store.verify()
    return render(request, "verify.html", me, result=result)


@page
async def audit_export(request: web.Request, me: Session) -> web.StreamResponse:
    from crisiscast.audit.export import export_csv, export_jsonl

    fmt = request.match_info["fmt"]
    dispatch_id = request.query.get("dispatch") or None
    out = io.StringIO()
    await (export_csv if fmt == "csv" else export_jsonl)(_ctx(request).store, dispatch_id, out)
    name = f"crisiscast-audit{'-' + dispatch_id if dispatch_id else ''}.{fmt}"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv" if fmt == "csv" else "application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


_BUG = (
    "Something went wrong inside crisiscast and this page could not be shown; nothing more was done. "
    "Try again, or use the crisiscast command line."
)


@web.middleware
async def plain_errors(request: web.Request, handler: Route) -> web.StreamResponse:
    """Under /console, an unknown page or an internal error is one sentence on a page, not a
    bare status (the error is logged with its traceback)."""
    if not request.path.startswith("/console"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        t = TEXT[pick_language(request)]
        return render(request, "error.html", _session(request), status=404, sentence=t["not_found"])
    except web.HTTPException:
        raise
    except Exception:
        log.error("console_error", path=request.path, exc_info=True)
        return render(request, "error.html", None, status=500, sentence=_BUG)


def add_routes(app: web.Application, sessions: SessionStore | None = None) -> None:
    """Register every console route and the console's static files."""
    from pathlib import Path

    app.middlewares.append(plain_errors)
    app[SESSIONS] = sessions or SessionStore()
    app[_CLOSING] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        app[_CLOSING].set()

    app.on_shutdown.insert(0, closing)
    r = app.router
    r.add_get("/console", home)
    r.add_get("/console/", home)
    r.add_get("/console/sign-in", sign_in_form)
    r.add_post("/console/sign-in", sign_in)
    r.add_post("/console/sign-out", sign_out)
    r.add_get("/console/compose", compose_form)
    r.add_post("/console/compose", compose)
    r.add_get("/console/drafts/{draft_id}", draft_page)
    r.add_post("/console/drafts/{draft_id}/approve", approve)
    r.add_post("/console/drafts/{draft_id}/send", send)
    r.add_post("/console/drafts/{draft_id}/discard", discard)
    r.add_get("/console/dispatches/{dispatch_id}", board_page)
    r.add_get("/console/dispatches/{dispatch_id}/events", board_events)
    r.add_post("/console/dispatches/{dispatch_id}/update", update)
    r.add_post("/console/dispatches/{dispatch_id}/cancel", cancel)
    r.add_get("/console/audit", audit_list)
    r.add_get("/console/audit/verify", audit_verify)
    r.add_get("/console/audit/export.{fmt:jsonl|csv}", audit_export)
    r.add_get("/console/audit/{dispatch_id}", audit_record)
    r.add_static("/console/static", Path(__file__).parent / "static", append_version=False)
