"""``GET /v1/dispatches/{id}``: where a dispatch stands, for the system that triggered it.

Bearer-token authentication (``crisiscast.server.auth``): ``Authorization: Bearer <token>``
with any token of ``CRISISCAST_API_TOKENS``, a person's (``name=token``) or a machine's (a
bare token). With no token configured the API refuses every request (401): status documents
hold staff phone numbers. A machine's token is status-only: its document carries counts
(``sms_receipt_counts``) instead of the per-recipient ``sms_receipts`` list, so it never sees a
staff phone number.

Answers: 200 with the document of ``crisiscast.server.status_view.dispatch_status``; 401
without a valid token; 404 for an unknown id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from crisiscast.jsontypes import JsonObject, json_list, json_object
from crisiscast.server.auth import AuthRefused, authenticate
from crisiscast.server.context import CONTEXT, ServerContext, error_response
from crisiscast.server.status_view import dispatch_status

__all__ = ["add_status_routes"]


DocumentBuilder = Callable[[ServerContext, str, bool], Awaitable[Mapping[str, object] | None]]
"""Builds one dispatch's document (context, dispatch id, whether the caller is a person), or None."""


def dispatch_document(build: DocumentBuilder, missing: str) -> Handler:
    """A ``GET /v1/dispatches/{dispatch_id}…`` handler: token, then ``build``, then 200 or 404.

    ``missing`` is the 404 sentence, with ``{id}`` for the dispatch id asked for.
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            token = authenticate(request)
        except AuthRefused as exc:
            return exc.response()
        dispatch_id = request.match_info["dispatch_id"]
        document = await build(request.app[CONTEXT], dispatch_id, token.name is not None)
        if document is None:
            return error_response(404, missing.format(id=repr(dispatch_id[:80])))
        return web.json_response(document)

    return handler


async def _status(ctx: ServerContext, dispatch_id: str, person: bool) -> Mapping[str, object] | None:
    document = await dispatch_status(ctx.store, dispatch_id)
    if document is None or person:
        return document
    return counts_only(document)  # a machine's status-only token: counts, never staff phone numbers


async def _rollcall(ctx: ServerContext, dispatch_id: str, person: bool) -> Mapping[str, object] | None:
    """The roll-call (``crisiscast.rollcall.view``): a person's token sees who; a machine's, counts."""
    from crisiscast.rollcall.view import build_rollcall

    result = await build_rollcall(ctx.store, dispatch_id)
    return None if result is None else result.to_json(with_people=person)


async def _escalation(ctx: ServerContext, dispatch_id: str, person: bool) -> Mapping[str, object] | None:
    """The escalation steps (``crisiscast.escalation.view``); a machine's token sees no numbers."""
    from datetime import UTC, datetime

    from crisiscast.escalation.schedule import read_escalation
    from crisiscast.escalation.view import describe_state

    state = await read_escalation(ctx.store, dispatch_id)
    return None if state is None else describe_state(state, datetime.now(UTC), with_numbers=person)


_NO_DISPATCH = "There is no dispatch {id}; check the id."
get_dispatch = dispatch_document(_status, _NO_DISPATCH)
get_rollcall = dispatch_document(_rollcall, _NO_DISPATCH)
get_escalation = dispatch_document(_escalation, "The dispatch {id} has no escalation steps; check the id.")


def counts_only(document: JsonObject) -> JsonObject:
    """The status document without anything naming a recipient: the per-recipient SMS list
    (numbers, delivery keys) becomes counts of receipt statuses."""
    receipts: Counter[str] = Counter()
    for row in json_list(document.get("sms_receipts", ())):
        receipt = json_object(json_object(row).get("receipt"))
        receipts[str(receipt.get("status") or "none")] += 1
    out: JsonObject = {k: v for k, v in document.items() if k != "sms_receipts"}
    out["sms_receipt_counts"] = dict(receipts)
    return out


def add_status_routes(app: web.Application) -> None:
    """Register ``GET /v1/dispatches/{dispatch_id}`` and its ``/rollcall`` and ``/escalation``."""
    app.router.add_get("/v1/dispatches/{dispatch_id}", get_dispatch)
    app.router.add_get("/v1/dispatches/{dispatch_id}/rollcall", get_rollcall)
    app.router.add_get("/v1/dispatches/{dispatch_id}/escalation", get_escalation)
