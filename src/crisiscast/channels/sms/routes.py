"""``POST /v1/twilio/status``: Twilio's delivery receipts for our SMS, recorded in the audit.

Twilio POSTs ``application/x-www-form-urlencoded`` parameters (``MessageSid``,
``MessageStatus``, ``ErrorCode`` on failures, ``RawDlrDoneDate`` …) to the ``StatusCallback``
URL of each message, signed in ``X-Twilio-Signature`` (HMAC-SHA1 of the URL and the sorted
parameters, keyed with the auth token). The signature is checked with the twilio SDK's
``RequestValidator`` against ``server.public_url`` + the path and query Twilio called (the
URL Twilio used, even behind a proxy); without ``public_url`` the URL of the request as it
reached us is used. ``/twilio/status`` is the same endpoint under a shorter path.

Which delivery a receipt belongs to: the ``key`` query parameter when the status callback
URL carries one (it is covered by the signature) and that SMS delivery's recorded provider id
is ``MessageSid`` (a key naming no delivery, or another message's delivery, records nothing),
else the SMS delivery whose provider id is ``MessageSid``: found through the store's index of
provider ids (``AuditStore.delivery_by_provider_id``: one row, whatever the dispatch's size)
and remembered. A callback can outrun the dispatcher's record of the SID, so a miss waits up
to ``wait_s`` for it.

Recorded: one ``receipt_status`` event per (``MessageSid``, ``MessageStatus``), deduplicated
through ``bind_key`` (atomic across processes), with ``provider_id``, ``status``,
``error_code`` and ``raw_dlr_done_date``. Receipts never change the delivery state
(delivered stays delivered); the status API shows the most advanced one.

Answers: 204 recorded or duplicate; 200 for a SID that matches no delivery we know (nothing
is recorded; answering an error would only make Twilio retry in vain — it is logged and
counted as ``unknown_sid``); 403 bad or missing signature; 400 missing fields; 503 when no
Twilio auth token is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

import structlog
from aiohttp import web
from twilio.request_validator import RequestValidator

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.spec import RouteDeps

__all__ = ["ReceiptIndex", "add_twilio_routes"]

log = structlog.get_logger(__name__)

_SMS = "sms"  # the channel whose provider ids the index looks up
_REMEMBERED_SIDS = 100_000  # SIDs held in memory at most (about 15 MB)
_RESCAN_S = 0.25
_RECEIPTS = web.AppKey("crisiscast_receipt_index", object)
_DEPS = web.AppKey("crisiscast_sms_route_deps", RouteDeps)


def error_response(status: int, sentence: str) -> web.Response:
    """A JSON error body: ``{"error": one plain sentence}``."""
    return web.json_response({"error": sentence}, status=status)


class ReceiptIndex:
    """MessageSid → (dispatch id, delivery key): the store's index of provider ids, remembered.

    A SID not known yet is looked up in the store (``AuditStore.delivery_by_provider_id``, one
    indexed row, whatever the dispatch's size) and, when the dispatcher has not recorded it yet,
    waited for up to ``wait_s``: ``poke()`` (called when this process's dispatches deliver an
    SMS) wakes the waiters, and without a poke they look again every ``_RESCAN_S``.
    """

    def __init__(self, store: AuditStore, *, wait_s: float = 5.0) -> None:
        self._store = store
        self._by_sid: dict[str, tuple[str, str]] = {}
        self._changed = asyncio.Event()
        self.wait_s = wait_s

    def poke(self) -> None:
        """Something was delivered: waiting lookups should look again."""
        self._changed.set()
        self._changed = asyncio.Event()  # the next waiters wait for the next delivery

    async def _look_up(self, sid: str) -> tuple[str, str] | None:
        record = await self._store.delivery_by_provider_id(_SMS, sid)
        if record is None:
            return None
        found = (record.delivery.dispatch_id, record.delivery.key)
        if len(self._by_sid) >= _REMEMBERED_SIDS:
            self._by_sid.clear()  # a bound, not a cache policy: the store answers again
        self._by_sid[sid] = found
        return found

    async def find(self, sid: str) -> tuple[str, str] | None:
        """The delivery of ``sid``, waiting up to ``wait_s`` for it to be recorded."""
        known = self._by_sid.get(sid)
        if known is not None:
            return known
        deadline = time.monotonic() + self.wait_s
        while True:
            changed = self._changed
            found = await self._look_up(sid)
            left = deadline - time.monotonic()
            if found is not None or left <= 0:
                return found
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(left, _RESCAN_S))


def _validation_url(request: web.Request, public_url: str | None) -> str:
    if public_url:
        return public_url.rstrip("/") + request.path_qs
    return str(request.url)


async def post_status(request: web.Request) -> web.Response:
    ctx = request.app[_DEPS]
    index = request.app[_RECEIPTS]
    assert isinstance(index, ReceiptIndex)
    token = ctx.secrets.get("twilio_auth_token")
    if token is None:
        ctx.count("rejected")
        return error_response(503, "No Twilio auth token is configured; set CRISISCAST_TWILIO_AUTH_TOKEN.")
    if request.content_type != "application/x-www-form-urlencoded":
        ctx.count("rejected")
        return error_response(415, "Twilio status callbacks are form-encoded.")
    if request.content_length is not None and request.content_length > ctx.settings.server.body_max_bytes:
        return error_response(413, "The callback body is too large.")
    try:
        form = await request.post()
    except ValueError:
        return error_response(400, "The callback body is not a valid form.")
    params: dict[str, str] = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(token.get_secret_value())
    if not signature or not validator.validate(
        _validation_url(request, ctx.settings.server.public_url), params, signature
    ):
        ctx.count("rejected")
        return error_response(
            403, "The X-Twilio-Signature does not match; check server.public_url and the auth token."
        )
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not sid or not status:
        return error_response(400, "The callback lacks MessageSid or MessageStatus.")
    target = await _known_delivery(index, _from_key(request.query), sid)
    bound = log.bind(provider_id=sid, status=status)
    if target is None:
        ctx.count("unknown_sid")
        bound.warning("twilio_receipt_unknown_sid")
        return web.json_response({"recorded": False, "reason": "no delivery has this MessageSid"})
    dispatch_id, key = target
    _, created = await ctx.store.bind_key(f"twilio-receipt:{sid}:{status}", dispatch_id)
    if not created:
        ctx.count("duplicate")
        return web.Response(status=204)
    data: dict[str, str | None] = {
        "provider_id": sid,
        "status": status,
        "error_code": params.get("ErrorCode") or None,
    }
    if params.get("RawDlrDoneDate"):
        data["raw_dlr_done_date"] = params["RawDlrDoneDate"]
    await ctx.store.append(
        [AuditEvent(kind=EventKind.RECEIPT_STATUS, dispatch_id=dispatch_id, delivery_key=key, data=data)]
    )
    ctx.count("recorded")
    bound.info("twilio_receipt_recorded", dispatch_id=dispatch_id, delivery=key)
    return web.Response(status=204)


async def post_inbound(request: web.Request) -> web.Response:
    """A staff member's reply (Twilio's inbound-message webhook), read and recorded for the roll-call.

    Signed like the status callbacks (403 otherwise, logged); answered with TwiML: a thank-you
    for an answer, how to answer for anything else, nothing for carrier keywords (STOP …)."""
    from twilio.twiml.messaging_response import MessagingResponse

    from crisiscast.rollcall.replies import record_reply

    ctx = request.app[_DEPS]
    params, refusal = await _signed_form(request, ctx)
    if refusal is not None:
        log.warning("twilio_inbound_refused", peer=request.remote, status=refusal.status)
        return refusal
    number, sid = params.get("From", ""), params.get("MessageSid") or params.get("SmsSid") or ""
    if not number or not sid:
        return error_response(400, "The inbound message lacks From or MessageSid.")
    outcome = await record_reply(ctx.store, number=number, text=params.get("Body", ""), provider_id=sid)
    ctx.count(f"inbound_{outcome.kind}")
    log.info("twilio_inbound", kind=outcome.kind, dispatch_id=outcome.dispatch_id, code=outcome.code)
    twiml = MessagingResponse()
    if outcome.respond:
        twiml.message(outcome.respond)
    return web.Response(text=str(twiml), content_type="application/xml")


async def _signed_form(request: web.Request, ctx: RouteDeps) -> tuple[dict[str, str], web.Response | None]:
    """The form parameters of a Twilio request whose signature holds, or the refusal to answer."""
    token = ctx.secrets.get("twilio_auth_token")
    if token is None:
        return {}, error_response(
            503, "No Twilio auth token is configured; set CRISISCAST_TWILIO_AUTH_TOKEN."
        )
    if request.content_type != "application/x-www-form-urlencoded":
        return {}, error_response(415, "Twilio webhooks are form-encoded.")
    if request.content_length is not None and request.content_length > ctx.settings.server.body_max_bytes:
        return {}, error_response(413, "The webhook body is too large.")
    try:
        form = await request.post()
    except ValueError:
        return {}, error_response(400, "The webhook body is not a valid form.")
    params: dict[str, str] = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(token.get_secret_value())
    if not signature or not validator.validate(
        _validation_url(request, ctx.settings.server.public_url), params, signature
    ):
        return {}, error_response(
            403, "The X-Twilio-Signature does not match; check server.public_url and the auth token."
        )
    return params, None


async def _known_delivery(
    index: ReceiptIndex, named: tuple[str, str] | None, sid: str
) -> tuple[str, str] | None:
    """The SMS delivery this receipt belongs to, or None: the delivery whose recorded provider
    id is ``sid`` (waiting, as ``ReceiptIndex.find`` does, for a SID the dispatcher has not
    recorded yet) — and, when the callback URL names a ``key``, only if it is that delivery."""
    found = await index.find(sid)
    if named is None or found == named:
        return found
    return None  # the key names no SMS delivery of ours, or one sent as another message


def _from_key(query: Mapping[str, str]) -> tuple[str, str] | None:
    key = query.get("key", "")
    dispatch_id = key.split(":", 1)[0]
    return (dispatch_id, key) if dispatch_id and key.count(":") >= 3 else None


def receipt_index(app: web.Application) -> ReceiptIndex:
    index = app[_RECEIPTS]
    assert isinstance(index, ReceiptIndex)
    return index


def add_twilio_routes(app: web.Application, deps: RouteDeps) -> ReceiptIndex:
    """Register ``POST /v1/twilio/status`` (and ``/twilio/status``) and ``POST /v1/twilio/inbound``
    (staff replies, ``crisiscast.rollcall``); returns the SID index."""
    index = ReceiptIndex(deps.store, wait_s=deps.receipt_wait_s)
    app[_RECEIPTS] = index
    app[_DEPS] = deps
    app.router.add_post("/v1/twilio/status", post_status)
    app.router.add_post("/twilio/status", post_status)
    app.router.add_post("/v1/twilio/inbound", post_inbound)
    return index
