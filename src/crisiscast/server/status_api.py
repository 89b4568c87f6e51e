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

from aiohttp import web

from crisiscast.jsontypes import JsonObject, json_list, json_object
from crisiscast.server.auth import AuthRefused, authenticate
from crisiscast.server.context import CONTEXT, error_response
from crisiscast.server.status_view import dispatch_status

__all__ = ["add_status_routes"]


async def get_dispatch(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        token = authenticate(request)
    except AuthRefused as exc:
        return exc.response()
    dispatch_id = request.match_info["dispatch_id"]
    document = await dispatch_status(ctx.store, dispatch_id)
    if document is None:
        return error_response(404, f"There is no dispatch {dispatch_id[:80]!r}; check the id.")
    if token.name is None:  # a machine's status-only token: counts, never staff phone numbers
        document = counts_only(document)
    return web.json_response(document)


async def get_rollcall(request: web.Request) -> web.Response:
    """The roll-call (``crisiscast.rollcall.view``): a person's token sees who; a machine's, counts."""
    from crisiscast.rollcall.view import build_rollcall

    ctx = request.app[CONTEXT]
    try:
        token = authenticate(request)
    except AuthRefused as exc:
        return exc.response()
    dispatch_id = request.match_info["dispatch_id"]
    result = await build_rollcall(ctx.store, dispatch_id)
    if result is None:
        return error_response(404, f"There is no dispatch {dispatch_id[:80]!r}; check the id.")
    return web.json_response(result.to_json(with_people=token.name is not None))


async def get_escalation(request: web.Request) -> web.Response:
    """The escalation steps (``crisiscast.escalation.view``); a machine's token sees no numbers."""
    from datetime import UTC, datetime

    from crisiscast.escalation.schedule import read_escalation
    from crisiscast.escalation.view import describe_state

    ctx = request.app[CONTEXT]
    try:
        token = authenticate(request)
    except AuthRefused as exc:
        return exc.response()
    dispatch_id = request.match_info["dispatch_id"]
    state = await read_escalation(ctx.store, dispatch_id)
    if state is None:
        return error_response(
            404, f"The dispatch {dispatch_id[:80]!r} has no escalation steps; check the id."
        )
    return web.json_response(describe_state(state, datetime.now(UTC), with_numbers=token.name is not None))


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
