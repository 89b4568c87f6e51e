"""The lifecycle over HTTP: approve and send drafts, update and cancel dispatches.

- ``POST /v1/drafts/{id}/approvals`` ``{"operator"}`` → 200 with what is still missing;
- ``POST /v1/drafts/{id}/send`` ``{"operator", "quality_override"}`` → 202 dispatching, or 403
  saying exactly what the policy still needs, or 422 with the quality gate's ``findings`` when
  an Actual free-text message fails the gate and no ``quality_override`` reason was given (the
  reason, when given, is recorded in the audit's approval record; ``server.quality_gate``);
- ``POST /v1/dispatches/{id}/update`` ``{"operator", "template", "variables"}`` or
  ``{"operator", "message"}`` → 202: a template Update is dispatched at once, free text is
  held as a draft (``awaiting_approval``) exactly as on the command line;
- ``POST /v1/dispatches/{id}/cancel`` ``{"operator", "reason", "all_clear"}`` → 202 as soon
  as the cancel is recorded (a run in this process stops at once, in other processes
  within a second); then, in the background, the dispatch is settled and the all-clear
  (``{"template": "all-clear"}`` by default, ``{"text": …}``, or ``false`` for none) goes to
  exactly its reach, under the same approval rules.

Each route records a person's act, so it needs a person's token (``name=token`` in
``CRISISCAST_API_TOKENS``, see ``crisiscast.server.auth``): the token's name is the identity
recorded as author, approver or sender with ``via: "api"``, and the approval policy is the
same as on the command line. A machine token (no name) is refused with 403. The body's
``operator`` may be left out; when given it must be the token's own name (compared as
identities), else 403: one token never acts as two people.

Errors: ``{"error": one sentence}`` with 400 (bad body), 401 (no valid token), 403 (a machine
token, an ``operator`` that is not the token's holder, a policy refusal), 404 (unknown id),
409 (not a draft any more, already sent), 422 (invalid message or template values; a failed
quality gate, with ``"findings"``), 503 (shutting down).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from crisiscast.dispatch import Dispatcher, new_dispatch_id
from crisiscast.errors import ConfigError, PolicyError, UserError
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.lifecycle.approval import rule_for, verdict
from crisiscast.lifecycle.drafts import approve_draft, check_sendable, create_draft
from crisiscast.lifecycle.followup import build_follow_up, lineage_reach
from crisiscast.lifecycle.identity import check_identity, same_person, set_acting
from crisiscast.lifecycle.sending import claim_send, prepare_outgoing
from crisiscast.lifecycle.stop import stop_dispatch
from crisiscast.message import CrisisMessage
from crisiscast.server.auth import AuthRefused, require_person
from crisiscast.server.context import CONTEXT, ServerContext, error_response
from crisiscast.server.quality_gate import QualityRefused, gate_send, override_from
from crisiscast.server.runner import ShuttingDown
from crisiscast.strict_json import DuplicateKeyError, loads_unique
from crisiscast.templates import TemplateError

__all__ = [
    "Refused",
    "add_lifecycle_routes",
    "answer_of",
    "cancel_dispatch",
    "dispatch_draft",
    "follow_up",
    "person_request",
    "wait_background",
]

log = structlog.get_logger(__name__)

_TASKS = web.AppKey("crisiscast_lifecycle_tasks", set[asyncio.Task[None]])
SHUTDOWN_GRACE_S = 5.0


class _Refused(Exception):
    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


async def _body(request: web.Request) -> tuple[ServerContext, JsonObject, str]:
    """The context, the JSON body and the acting person (the token's name); raises ``AuthRefused``
    or ``_Refused``."""
    ctx = request.app[CONTEXT]
    holder = require_person(request)
    set_acting({"identity_basis": "api-token", "token_holder": holder})
    raw = await request.read()
    try:
        body = loads_unique(raw) if raw.strip() else {}
    except DuplicateKeyError as dup:
        sentence = f"The body gives the field {dup.key[:40]!r} twice; send each field once."
        raise _Refused(400, sentence) from None
    except (ValueError, RecursionError):  # RecursionError: nesting too deep for the parser
        raise _Refused(400, "The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise _Refused(400, "The body must be a JSON object.")
    named = body.get("operator")
    if named is None:
        return ctx, body, holder
    if not isinstance(named, str):
        raise _Refused(400, '"operator" must be the name of the person acting, or left out.')
    try:
        operator = check_identity(named, where='"operator"')
    except ConfigError as exc:
        raise _Refused(400, str(exc)) from None
    if not same_person(operator, holder):
        raise _Refused(
            403,
            f"This token belongs to {holder} and cannot act as {operator}; {operator} must send "
            f'the request with their own token (leave "operator" out to act as {holder}).',
        )
    return ctx, body, holder


async def _known(ctx: ServerContext, dispatch_id: str) -> str:
    record = await ctx.store.dispatch(dispatch_id)
    if record is None:
        raise _Refused(404, f"There is no draft or dispatch {dispatch_id[:80]!r}; check the id.")
    return record.state


def _answer(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            result: web.Response = await handler(request)
        except AuthRefused as exc:
            return exc.response()
        except QualityRefused as exc:
            body: JsonObject = {"error": exc.sentence}
            if exc.findings:
                body["findings"] = exc.findings
            return web.json_response(body, status=exc.status)
        except _Refused as exc:
            return error_response(exc.status, exc.sentence)
        except PolicyError as exc:
            return error_response(403, str(exc))
        except ShuttingDown:
            return error_response(503, "The server is shutting down; send the request to another one.")
        except TemplateError as exc:
            return error_response(422, str(exc))
        except UserError as exc:  # not a draft any more, already sent, all-clear already sent
            return error_response(409, str(exc))
        return result

    return wrapped


async def post_approval(request: web.Request) -> web.Response:
    ctx, _, operator = await _body(request)
    draft_id = request.match_info["draft_id"]
    await _known(ctx, draft_id)
    result = await approve_draft(ctx.store, draft_id, operator, ctx.settings.policy, ctx.catalog, via="api")
    return web.json_response(
        {
            "draft_id": draft_id,
            "approver": operator,
            "ready": result.ok,
            "missing": result.missing,
            "needs": "" if result.ok else result.sentence,
        }
    )


_HOW = {"api": 'with "quality_override": REASON in the body', "console": "with a reason in the override box"}


async def _refuse_empty_audiences(
    ctx: ServerContext, draft_id: str, message: CrisisMessage, sender: str
) -> None:
    """422, audited (``approval_refused``), when a roster audience resolves to nobody now."""
    from crisiscast.lifecycle.drafts import record_refusal
    from crisiscast.roster.preview import preview_audiences

    # reads the contacts (and maybe fetches the schedule) off the event loop
    people = await asyncio.to_thread(preview_audiences, message, ctx.settings, roster_only=True)
    if people.refusal is not None:
        await record_refusal(ctx.store, draft_id, sender, "send", people.refusal)
        raise _Refused(422, people.refusal)


async def _dispatch_draft(
    ctx: ServerContext, draft_id: str, sender: str, via: str = "api", *, quality_override: str | None = None
) -> JsonObject:
    draft, rule, result = await check_sendable(ctx.store, draft_id, sender, ctx.settings.policy, ctx.catalog)
    await _refuse_empty_audiences(ctx, draft_id, draft.message, sender)
    quality = await gate_send(ctx, draft.message, quality_override, how=_HOW.get(via, _HOW["api"]))
    outgoing = await prepare_outgoing(
        ctx.store, draft, rule, result, sender=sender, confirmed_with=via, via=via, extra=quality
    )
    await claim_send(ctx.store, draft_id)
    await ctx.runner.start(
        outgoing.message,
        dispatch_id=draft_id,
        approval=outgoing.approval,
        source=via,
        skipped=outgoing.skipped,
        reply_to=outgoing.reply_to if draft.follow_up else None,
        only_targets=outgoing.only_targets,
    )
    return {"dispatch_id": draft_id, "status_url": ctx.status_url(draft_id), "state": "dispatching"}


async def post_send(request: web.Request) -> web.Response:
    ctx, body, operator = await _body(request)
    draft_id = request.match_info["draft_id"]
    override = override_from(body.get("quality_override"), field="quality_override")
    state = await _known(ctx, draft_id)
    if state != "draft":
        raise _Refused(409, f"{draft_id} is not a draft awaiting approval (it is {state}); nothing was sent.")
    answer = await _dispatch_draft(ctx, draft_id, operator, quality_override=override)
    return web.json_response(answer, status=202)


async def _follow_up(
    ctx: ServerContext,
    dispatch_id: str,
    kind: str,
    *,
    operator: str,
    spec: JsonMapping,
    draft_id: str,
    via: str = "api",
) -> JsonObject:
    """Store the follow-up as a draft; dispatch it when the operator alone satisfies the policy
    (through the quality gate: ``quality_override`` in ``spec`` is the reason, if any)."""
    override = override_from(spec.get("quality_override"), field="quality_override")
    reach = await lineage_reach(ctx.store, dispatch_id)
    message: CrisisMessage | None = None
    if "message" in spec:
        try:
            message = CrisisMessage.model_validate(spec["message"])
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "message"
            raise _Refused(422, f"The message is invalid: {where}: {err['msg']}.") from None
    variables = spec.get("variables") or {}
    if not isinstance(variables, dict):
        raise _Refused(422, '"variables" must be an object of template variables.')
    text = spec.get("text")
    template_id = spec.get("template") if message is None and text is None else None
    if template_id is not None and not isinstance(template_id, str):
        raise _Refused(422, '"template" must be the id of an approved template, such as "facility-fire".')
    built, from_template = build_follow_up(
        reach,
        kind,
        ctx.catalog,
        author=operator,
        message=message,
        template_id=template_id,
        variables={str(k): str(v) for k, v in variables.items()},
        all_clear_text=str(text) if text is not None else None,
    )
    source = "template" if from_template else via
    follow = {"kind": kind, "of": dispatch_id, "root": reach.root.dispatch_id}
    await create_draft(ctx.store, built, author=operator, source=source, follow_up=follow, draft_id=draft_id)
    rule = rule_for(built, ctx.settings.policy, author=operator, from_template=from_template)
    needs = verdict(draft_id, operator, [], rule, ctx.settings.policy)
    if not needs.ok:
        return {
            "dispatch_id": draft_id,
            "status_url": ctx.status_url(draft_id),
            "state": "awaiting_approval",
            "needs": needs.sentence,
        }
    return await _dispatch_draft(ctx, draft_id, operator, via, quality_override=override)


async def post_update(request: web.Request) -> web.Response:
    ctx, body, operator = await _body(request)
    dispatch_id = request.match_info["dispatch_id"]
    await _known(ctx, dispatch_id)
    if ("template" in body) == ("message" in body):
        raise _Refused(400, 'Give either "template" (with "variables") or "message" for the update.')
    answer = await _follow_up(
        ctx, dispatch_id, "update", operator=operator, spec=body, draft_id=new_dispatch_id()
    )
    return web.json_response(answer, status=202)


async def post_cancel(request: web.Request) -> web.Response:
    _, body, operator = await _body(request)
    dispatch_id = request.match_info["dispatch_id"]
    reason = str(body.get("reason") or f"cancelled by {operator}")[:500]
    spec = body.get("all_clear", {"template": "all-clear"})
    answer = await cancel_dispatch(request.app, dispatch_id, operator=operator, reason=reason, spec=spec)
    return web.json_response(answer, status=202)


async def cancel_dispatch(
    app: web.Application, dispatch_id: str, *, operator: str, reason: str, spec: Any, via: str = "api"
) -> JsonObject:
    """Record the cancel of ``dispatch_id`` and start its all-clear in the background (the API's and
    the console's one way to cancel); raises ``_Refused`` for an unknown id or a bad ``spec``."""
    ctx = app[CONTEXT]
    state = await _known(ctx, dispatch_id)
    if spec is not False and not isinstance(spec, dict):
        raise _Refused(
            400, '"all_clear" must be {"template": ID, "variables": {...}}, {"text": ...} or false.'
        )
    if isinstance(spec, dict) and "template" not in spec and "text" not in spec:
        spec = {**spec, "template": "all-clear"}
    if isinstance(spec, dict) and "template" in spec and str(spec["template"]) not in ctx.catalog:
        raise _Refused(422, f"There is no approved template {str(spec['template'])[:80]!r}.")
    await Dispatcher(ctx.store).cancel(dispatch_id, who=operator, reason=reason)
    answer: JsonObject = {"dispatch_id": dispatch_id, "state": "cancelled"}
    if state == "draft":
        answer["state"] = "discarded"
        return answer
    if spec is not False:
        all_clear_id = new_dispatch_id()
        answer["all_clear"] = {"dispatch_id": all_clear_id, "status_url": ctx.status_url(all_clear_id)}
        task = asyncio.create_task(
            _settle_then_all_clear(
                ctx,
                dispatch_id,
                operator=operator,
                reason=reason,
                spec=spec,
                all_clear_id=all_clear_id,
                via=via,
            ),
            name=f"all-clear-{all_clear_id}",
        )
        tasks: set[asyncio.Task[None]] = app[_TASKS]
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return answer


async def _settle_then_all_clear(
    ctx: ServerContext,
    dispatch_id: str,
    *,
    operator: str,
    reason: str,
    spec: JsonMapping,
    all_clear_id: str,
    via: str = "api",
) -> None:
    bound = log.bind(dispatch_id=dispatch_id, all_clear=all_clear_id)
    try:
        await stop_dispatch(ctx.store, dispatch_id, who=operator, reason=reason, request=False)
        answer = await _follow_up(
            ctx, dispatch_id, "cancel", operator=operator, spec=spec, draft_id=all_clear_id, via=via
        )
        bound.info("all_clear_started", state=answer["state"])
    except (UserError, _Refused, QualityRefused, ShuttingDown) as exc:
        bound.error("all_clear_not_sent", reason=str(exc))
    except Exception:
        bound.error("all_clear_crashed", exc_info=True)


async def wait_background(app: web.Application) -> None:
    """Wait until every background all-clear of ``app`` has been planned (or given up)."""
    running: set[asyncio.Task[None]] = app[_TASKS]
    while running:
        await asyncio.gather(*list(running), return_exceptions=True)


def add_lifecycle_routes(app: web.Application) -> None:
    """Register the draft approval/send and dispatch update/cancel routes."""
    app[_TASKS] = set()
    app.router.add_post("/v1/drafts/{draft_id}/approvals", _answer(post_approval))
    app.router.add_post("/v1/drafts/{draft_id}/send", _answer(post_send))
    app.router.add_post("/v1/dispatches/{dispatch_id}/update", _answer(post_update))
    app.router.add_post("/v1/dispatches/{dispatch_id}/cancel", _answer(post_cancel))

    async def drain(app: web.Application) -> None:
        running: set[asyncio.Task[None]] = app[_TASKS]
        tasks = list(running)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    app.on_shutdown.append(drain)


# The same services under public names, for the web console (crisiscast.console) and the
# draft route (crisiscast.server.drafts_api).
Refused = _Refused
person_request = _body
answer_of = _answer
dispatch_draft = _dispatch_draft
follow_up = _follow_up
