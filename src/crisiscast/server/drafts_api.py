"""``POST /v1/drafts``: a person drafts — and, with ``"send": true``, sends — a message over HTTP.

This is how ``crisiscast send --server URL`` hands a broadcast to a running ``crisiscast serve``
(whose channels, templates and contacts are already loaded, so the first text leaves in tens of
milliseconds instead of after a new process has imported and read everything). The body is

- ``{"template": ID, "variables": {...}, "status": "Actual" | "Exercise" | "Test"}``, or
- ``{"message": {...}}`` (the fields of a message file),

with ``"send": true`` to send at once when the approval policy lets the token's holder send it
alone (the API's ``--yes``), and ``"quality_override": REASON`` as on the command line.

Before anything is stored the message is previewed exactly as ``crisiscast send`` previews it
(``crisiscast.cli.preview.build_preview``): a channel that cannot take it, a roster audience that
reaches nobody, or no channel at all is refused with 422 and nothing is drafted. Then the draft
is recorded (``draft_created``, the token's holder as author) and the answer carries the
``question`` the command line asks, naming every channel and whether it is a drill:

- 201 ``{"state": "draft", "ready": true, ...}``: the holder may send it
  (``POST /v1/drafts/{id}/send``);
- 202 ``{"state": "awaiting_approval", "needs": ...}``: the policy needs other approvers first
  (``POST /v1/drafts/{id}/approvals`` with their own tokens); nothing was sent, even with
  ``"send": true``;
- 202 ``{"state": "dispatching", ...}``: ``"send": true`` and the holder alone may send it; the
  plan and the approval are durable before the answer, as for ``/v1/drafts/{id}/send``.

A person's token only (``crisiscast.server.auth``); errors as in ``crisiscast.server.lifecycle_api``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from crisiscast.jsontypes import JsonObject
from crisiscast.lifecycle.approval import rule_for, verdict
from crisiscast.lifecycle.drafts import create_draft
from crisiscast.message import CrisisMessage, Status
from crisiscast.server.context import ServerContext
from crisiscast.server.lifecycle_api import Refused, answer_of, dispatch_draft, person_request
from crisiscast.server.quality_gate import override_from

__all__ = ["add_draft_routes"]


def _status(value: Any) -> Status:
    for status in Status:
        if isinstance(value, str) and status.value.lower() == value.strip().lower():
            return status
    raise Refused(422, '"status" must be "Actual", "Exercise" or "Test".')


def _message_of(ctx: ServerContext, body: JsonObject) -> tuple[CrisisMessage, str]:
    """The message the body describes, and the draft's source (``template`` or ``api``)."""
    if ("template" in body) == ("message" in body):
        raise Refused(400, 'Give either "template" (with "variables") or "message".')
    if "message" in body:
        try:
            return CrisisMessage.model_validate(body["message"]), "api"
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "message"
            raise Refused(
                422, f"The message is invalid: {where}: {err['msg']}; nothing was drafted."
            ) from None
    template_id = body["template"]
    if not isinstance(template_id, str) or template_id not in ctx.catalog:
        shown = str(template_id)[:80]
        raise Refused(422, f"There is no approved template {shown!r}; nothing was drafted.")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise Refused(422, '"variables" must be an object of template variables.')
    status = _status(body.get("status", "Actual"))
    values = {str(k): str(v) for k, v in variables.items()}
    return ctx.catalog.get(template_id).render(values, status=status), "template"


def _refusal(preview: Any) -> str | None:
    """Why the preview says this message cannot be sent at all (None: it can)."""
    for name, reason in preview.refused.items():
        return f"Nothing was drafted: the {name} channel cannot take this message: {reason}"
    if preview.audience_refusal is not None:
        return str(preview.audience_refusal)
    if not preview.destinations:
        return "Nothing was drafted: no channel can take this message."
    return None


async def post_draft(request: web.Request) -> web.Response:
    from crisiscast.cli.preview import build_preview, confirmation_question

    ctx, body, operator = await person_request(request)
    send = body.get("send", False)
    if not isinstance(send, bool):
        raise Refused(400, '"send" must be true or false.')
    override = override_from(body.get("quality_override"), field="quality_override")
    message, source = _message_of(ctx, body)
    preview = build_preview(message, ctx.settings, secrets=ctx.secrets)
    refusal = _refusal(preview)
    if refusal is not None:
        raise Refused(422, refusal)
    draft_id = await create_draft(ctx.store, message, author=operator, source=source)
    rule = rule_for(message, ctx.settings.policy, author=operator, from_template=source == "template")
    needs = verdict(draft_id, operator, [], rule, ctx.settings.policy)
    answer: JsonObject = {
        "draft_id": draft_id,
        "status_url": ctx.status_url(draft_id),
        "state": "draft" if needs.ok else "awaiting_approval",
        "ready": needs.ok,
        "needs": "" if needs.ok else needs.sentence,
        "question": confirmation_question(preview),
        "destinations": list(preview.destinations),
        "skipped": [{"channel": name, "reason": reason} for name, reason in preview.skipped],
        "exercise": message.status is not Status.ACTUAL,
    }
    if not needs.ok:
        return web.json_response(answer, status=202)
    if not send:
        return web.json_response(answer, status=201)
    sent = await dispatch_draft(ctx, draft_id, operator, "api", quality_override=override)
    return web.json_response({**answer, **sent}, status=202)


def add_draft_routes(app: web.Application) -> None:
    """Register ``POST /v1/drafts``."""
    app.router.add_post("/v1/drafts", answer_of(post_draft))
