"""Twilio's callbacks for our calls on ``crisiscast serve``, each recorded in the audit.

Three form-encoded POST routes, each signed by Twilio in ``X-Twilio-Signature`` (HMAC-SHA1 of
the URL and the sorted parameters, keyed with the auth token), checked with the twilio SDK's
``RequestValidator`` against ``voice.callback_base_url`` (else ``server.public_url``) + the
path and query Twilio called; a bad or missing signature is refused (403) and nothing is
recorded. The ``key`` query parameter (covered by the signature) names the delivery.

``POST /v1/twilio/voice/status``
    Call progress (``CallSid``, ``CallStatus``: initiated, ringing, in-progress, completed,
    busy, no-answer, failed, canceled). One ``receipt_status`` event per (``CallSid``,
    ``CallStatus``) — so per call, that is per attempt — with ``call_duration_s`` and
    ``error_code`` when Twilio gives them. Answers 204.
``POST /v1/twilio/voice/gather``
    The key the person pressed after "press 1 to confirm" (``Digits``): a ``receipt_status``
    event ``confirmed`` (digit 1) or ``pressed_other``, once per call; answers with TwiML
    thanking them (the marker last) and hanging up.
``POST /v1/twilio/voice/amd``
    Asynchronous answering-machine detection (``AnsweredBy``). Recorded as
    ``answered_by``; for a machine (``machine_end_beep`` …) the call is switched to the short
    voicemail version (``POST …/Calls/{CallSid}.json`` with ``Twiml``), recorded as
    ``voicemail`` (or ``voicemail_failed`` with the reason). Answers 204.

Other answers: 400 missing fields or a key that names no voice delivery, 413 too large,
415 not a form, 503 no Twilio auth token configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.sms.twilio import TwilioTransport, capture_response
from crisiscast.channels.spec import RouteDeps
from crisiscast.channels.voice import SPEC
from crisiscast.channels.voice.adapt import VoiceScript
from crisiscast.channels.voice.channel import AMD_PATH, GATHER_PATH, STATUS_PATH
from crisiscast.channels.voice.errors import voice_error
from crisiscast.channels.voice.twiml import thanks_twiml, voicemail_twiml

__all__ = ["add_voice_routes"]

log = structlog.get_logger(__name__)

_DEPS = web.AppKey("crisiscast_voice_route_deps", RouteDeps)
_CALLS = web.AppKey("crisiscast_voice_calls", object)
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'

Handler = Callable[[web.Request, RouteDeps, dict[str, str], tuple[str, str]], Awaitable[web.Response]]


def _error(status: int, sentence: str) -> web.Response:
    return web.json_response({"error": sentence}, status=status)


def _delivery_of(key: str) -> tuple[str, str] | None:
    parts = key.split(":")
    if len(parts) >= 4 and parts[0] and parts[1] == SPEC.name:
        return parts[0], key
    return None


def _signed(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Check the request (token, form, signature, key) before ``handler`` sees it."""

    async def checked(request: web.Request) -> web.Response:
        deps = request.app[_DEPS]
        token = deps.secrets.get("twilio_auth_token")
        if token is None:
            deps.count("rejected")
            return _error(503, "No Twilio auth token is configured; set CRISISCAST_TWILIO_AUTH_TOKEN.")
        if request.content_type != "application/x-www-form-urlencoded":
            deps.count("rejected")
            return _error(415, "Twilio callbacks are form-encoded.")
        too_large = deps.settings.server.body_max_bytes
        if request.content_length is not None and request.content_length > too_large:
            return _error(413, "The callback body is too large.")
        try:
            form = await request.post()
        except ValueError:
            return _error(400, "The callback body is not a valid form.")
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        base = SPEC.config(deps.settings).callback_base_url or deps.settings.server.public_url
        url = base.rstrip("/") + request.path_qs if base else str(request.url)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(token.get_secret_value()).validate(url, params, signature):
            deps.count("rejected")
            return _error(
                403,
                "The X-Twilio-Signature does not match; check channels.voice.callback_base_url "
                "(or server.public_url) and the auth token.",
            )
        target = _delivery_of(request.query.get("key", ""))
        if target is None or not params.get("CallSid"):
            return _error(400, "The callback lacks CallSid or a key naming a voice delivery.")
        return await handler(request, deps, params, target)

    return checked


async def _record(deps: RouteDeps, target: tuple[str, str], once: str, data: dict[str, str | None]) -> bool:
    """One ``receipt_status`` event, once per ``once`` (across processes); False for a repeat."""
    dispatch_id, key = target
    _, created = await deps.store.bind_key(once, dispatch_id)
    if not created:
        deps.count("duplicate")
        return False
    await deps.store.append(
        [AuditEvent(kind=EventKind.RECEIPT_STATUS, dispatch_id=dispatch_id, delivery_key=key, data=data)]
    )
    deps.count("recorded")
    return True


async def _script(deps: RouteDeps, target: tuple[str, str]) -> VoiceScript | None:
    dispatch_id, key = target
    for record in await deps.store.deliveries(dispatch_id):
        if record.delivery.key == key:
            return VoiceScript.from_payload(dict(record.delivery.payload.get("script") or {}))
    return None


async def _status(
    request: web.Request, deps: RouteDeps, params: dict[str, str], target: tuple[str, str]
) -> web.Response:
    sid, status = params["CallSid"], params.get("CallStatus", "").lower()
    if not status:
        return _error(400, "The callback lacks CallStatus.")
    data: dict[str, str | None] = {
        "provider_id": sid,
        "status": status,
        "error_code": params.get("ErrorCode") or None,
        "call_duration_s": params.get("CallDuration") or None,
    }
    if await _record(deps, target, f"twilio-call:{sid}:{status}", data):
        log.info("voice_call_status_recorded", delivery=target[1], provider_id=sid, status=status)
    return web.Response(status=204)


async def _gather(
    request: web.Request, deps: RouteDeps, params: dict[str, str], target: tuple[str, str]
) -> web.Response:
    sid, digits = params["CallSid"], params.get("Digits", "")
    status = "confirmed" if digits == "1" else "pressed_other"
    data: dict[str, str | None] = {"provider_id": sid, "status": status, "digits": digits or None}
    if await _record(deps, target, f"twilio-gather:{sid}", data):
        log.info("voice_confirmation_recorded", delivery=target[1], provider_id=sid, status=status)
    script = await _script(deps, target)
    twiml = thanks_twiml(script) if script is not None else _EMPTY_TWIML
    return web.Response(text=twiml, content_type="text/xml")


async def _amd(
    request: web.Request, deps: RouteDeps, params: dict[str, str], target: tuple[str, str]
) -> web.Response:
    sid, answered_by = params["CallSid"], params.get("AnsweredBy", "unknown").lower()
    data: dict[str, str | None] = {"provider_id": sid, "status": "answered_by", "answered_by": answered_by}
    if not await _record(deps, target, f"twilio-amd:{sid}", data):
        return web.Response(status=204)
    if answered_by.startswith("machine"):
        script = await _script(deps, target)
        outcome: dict[str, str | None] = {"provider_id": sid, "status": "voicemail", "error_code": None}
        if script is None:
            outcome.update(status="voicemail_failed", reason="the delivery was not found in the audit")
        else:
            calls = _calls(request.app, deps)
            with capture_response() as captured:
                try:
                    await calls(sid).update_async(twiml=voicemail_twiml(script))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = voice_error(exc, captured)
                    outcome.update(status="voicemail_failed", error_code=err.code, reason=err.reason)
        await _record(deps, target, f"twilio-voicemail:{sid}", outcome)
    return web.Response(status=204)


def _calls(app: web.Application, deps: RouteDeps) -> Any:
    """The SDK's call list of the account (its transport opens a session on first use)."""
    calls = app.get(_CALLS)
    if calls is None:
        raise web.HTTPServiceUnavailable(text="No Twilio auth token is configured.")
    return calls


def add_voice_routes(app: web.Application, deps: RouteDeps) -> None:
    """Register the three callback routes (and the Twilio client the voicemail switch uses)."""
    app[_DEPS] = deps
    cfg = SPEC.config(deps.settings)
    token = deps.secrets.get("twilio_auth_token")
    if token is not None:
        transport = TwilioTransport(cfg.api_base_url, timeout_s=cfg.request_timeout_s)
        client = Client(
            cfg.account_sid,
            token.get_secret_value(),
            http_client=transport,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        app[_CALLS] = client.api.v2010.account.calls

        async def close(_: web.Application) -> None:
            await transport.close()

        app.on_cleanup.append(close)
    app.router.add_post(STATUS_PATH, _signed(_status))
    app.router.add_post(GATHER_PATH, _signed(_gather))
    app.router.add_post(AMD_PATH, _signed(_amd))
