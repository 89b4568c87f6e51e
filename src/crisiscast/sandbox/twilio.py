"""A protocol-faithful fake of Twilio Programmable Messaging and Voice (the 2010-04-01 REST API).

The Calls routes (create, list, fetch, update, and their status / answering-machine /
key-press callbacks) live in ``crisiscast.sandbox.twilio_calls``; the voice channel runs this
same class as its own sandbox role. Everything below is the Messages side.

Routes (``{Sid}`` is an account SID it knows)::

    POST /2010-04-01/Accounts/{Sid}/Messages.json          create (form-encoded)
    GET  /2010-04-01/Accounts/{Sid}/Messages.json          list: To, From, DateSent, DateSent<, DateSent>,
                                                            PageSize, Page, PageToken
    GET  /2010-04-01/Accounts/{Sid}/Messages/{MsgSid}.json fetch one
    POST /_sandbox/inbound                                 a staff reply, sent signed to serve
                                                            (crisiscast.sandbox.twilio_inbound)

What it checks, answering with Twilio's own error body ``{"code","message","more_info","status"}``:
HTTP Basic auth (account SID + auth token; 401 code 20003 otherwise), the account in the path
(404 code 20404), ``To`` present (21604) and a valid number (21211), ``From`` or
``MessagingServiceSid`` present (21603), ``MessagingServiceSid`` shaped ``MG…`` (21705),
``Body`` present (21602) and at most 1,600 characters (21617), ``ValidityPeriod`` 1–36,000
(21624). Numbers configured in ``refuse`` answer their code (21610 opted out, 21614 not a
mobile number, 21408, 21608, 21635), as Twilio does.

Accepted messages are stored and "sent" at once (``date_sent`` is the creation time; the
create response still says ``queued``, or ``accepted`` with a Messaging Service, as Twilio's
does). When ``StatusCallback`` is given and ``status_callbacks`` is on, a background task POSTs
``sent`` and then ``delivered`` to it, form-encoded and signed with ``X-Twilio-Signature``
(HMAC-SHA1 of the URL and the sorted parameters with the auth token, computed by the twilio
SDK's ``RequestValidator``). ``await fake.callbacks_settled()`` waits for them.

``hold_queued=True`` keeps accepted messages queued (no ``date_sent``, no callbacks), like a
sender whose queue is hours long: Twilio's ``DateSent`` filters do not list them yet.
``read_faults=False`` keeps the fault plan (random 5xx, scripted faults) off the GET routes, so
a drill can fail sends while the message list stays readable for reconciliation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import phonenumbers
from aiohttp import web
from twilio.request_validator import RequestValidator

from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, Handler, RecordedRequest
from crisiscast.sandbox.twilio_calls import CallsApi
from crisiscast.sandbox.twilio_inbound import InboundReply, InboundSender, Signature

__all__ = [
    "OPTED_OUT_NUMBER",
    "SANDBOX_CREDENTIALS",
    "SANDBOX_FROM_NUMBER",
    "CallbackRecord",
    "FakeTwilio",
    "permanent_fault",
    "rate_limited_fault",
    "sandbox_env",
    "twilio_error",
]

SANDBOX_CREDENTIALS: Mapping[str, str] = {
    "account_sid": "AC00000000000000000000000000000000",
    "auth_token": "sandbox-twilio-auth-token-0000000000",
    "messaging_service_sid": "MG00000000000000000000000000000000",
}
SANDBOX_FROM_NUMBER = "+15005550006"  # Twilio's own "always succeeds" test sender
OPTED_OUT_NUMBER = "+16175550199"  # answers 21610 in the sandbox, to rehearse an opted-out recipient

_API = "/2010-04-01/Accounts/{sid}"
_MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
_BODY_MAX_CHARS = 1600
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")
_REFUSALS: Mapping[int, tuple[int, str]] = {
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    ),
    21608: (400, "The number {to} is unverified. Trial accounts cannot send messages to unverified numbers."),
    21635: (400, "'To' number cannot be a landline."),
}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def sandbox_env() -> dict[str, str]:
    """The ``CRISISCAST_*`` environment variables that authenticate against this fake."""
    return {"CRISISCAST_TWILIO_AUTH_TOKEN": SANDBOX_CREDENTIALS["auth_token"]}


def _rfc2822(when: datetime) -> str:
    return format_datetime(when, usegmt=False).replace("-0000", "+0000")


def _segments(body: str) -> int:
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units, single, multi = sum(2 if c in _GSM7_EXT else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


@dataclass(slots=True)
class CallbackRecord:
    """One status callback the fake POSTed: where, what, the signature, and the answer."""

    url: str
    params: dict[str, str]
    signature: str
    status: int  # the HTTP status the receiver answered (0: unreachable)
    answer: str = ""  # the receiver's answer body (the TwiML a key press gets back)


@dataclass(slots=True)
class _Account:
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)


class TwilioError(Exception):
    """An answer in Twilio's error shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        return web.json_response(_error_body(self.status, self.code, self.message), status=self.status)


def _error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": _MORE_INFO.format(code=code), "status": status}


def twilio_error(code: int, message: str | None = None, *, status: int = 400) -> dict[str, Any]:
    """Twilio's REST error body for ``code`` (its real message for the refusal codes)."""
    known = _REFUSALS.get(code)
    text = message or (known[1].format(to="the number") if known else f"Error {code}")
    return _error_body(status, code, text)


def rate_limited_fault(retry_after_s: int | None = None, *, times: int = 1) -> Fault:
    """A scripted 429 / 20429 as Twilio sends it (``Retry-After`` only when given)."""
    headers = {"Twilio-Concurrent-Requests": "101"}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return Fault(status=429, body=_error_body(429, 20429, "Too Many Requests"), headers=headers, times=times)


def permanent_fault(code: int = 21610, *, times: int = 1) -> Fault:
    """A scripted refusal of the next send(s) with Twilio's code and body (21610 opted out …)."""
    return Fault(status=400, body=twilio_error(code), times=times, path_contains="/Messages.json")


class FakeTwilio(FakeProvider):
    """The fake. ``refuse`` maps E.164 numbers to the Twilio error code they answer."""

    name = "twilio"

    def __init__(
        self,
        *,
        accounts: Mapping[str, str] | None = None,
        refuse: Mapping[str, int] | None = None,
        from_number: str = SANDBOX_FROM_NUMBER,
        status_callbacks: bool = True,
        read_faults: bool = True,
        hold_queued: bool = False,
        faults: FaultPlan | None = None,
        call_outcomes: Mapping[str, list[str]] | None = None,
        default_outcome: str = "human",
        call_refuse: Mapping[str, int] | None = None,
        press_digits: str | None = "1",
        caller_ids: set[str] | None = None,
    ) -> None:
        super().__init__(faults)
        default = {SANDBOX_CREDENTIALS["account_sid"]: SANDBOX_CREDENTIALS["auth_token"]}
        self._tokens = dict(accounts or default)
        self._accounts = {sid: _Account(token) for sid, token in self._tokens.items()}
        self.refuse: dict[str, int] = dict(refuse if refuse is not None else {OPTED_OUT_NUMBER: 21610})
        self.from_number = from_number
        self.status_callbacks = status_callbacks
        self.read_faults = read_faults
        self.hold_queued = hold_queued
        self.callbacks: list[CallbackRecord] = []
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._callback_session: aiohttp.ClientSession | None = None
        base = "/2010-04-01/Accounts/{sid}"
        self.route("POST", base + "/Messages.json", self._create)
        self._read_route(base + "/Messages.json", self._list)
        self._read_route(base + "/Messages/{msid}.json", self._fetch)
        # the Calls API (crisiscast.sandbox.twilio_calls): scripted outcomes per number
        self.call_outcomes: dict[str, list[str]] = {k: list(v) for k, v in (call_outcomes or {}).items()}
        self.default_outcome = default_outcome
        self.call_refuse: dict[str, int] = dict(call_refuse or {})
        self.press_digits = press_digits
        self.caller_ids: set[str] = set(caller_ids) if caller_ids is not None else {from_number}
        self.calls_api = CallsApi(self)
        self.inbound = InboundSender(self)  # staff replies to serve (crisiscast.sandbox.twilio_inbound)

    def account(self, account_sid: str | None = None) -> tuple[str, str]:
        """(account SID, auth token): the one named, else the first configured."""
        sid = account_sid or next(iter(self._tokens))
        return sid, self._tokens[sid]

    async def send_inbound(
        self, url: str, *, from_: str, body: str, to: str | None = None, signature: Signature = "valid"
    ) -> InboundReply:
        """A staff member's SMS reply, POSTed to ``url`` signed as Twilio would (see ``InboundSender``)."""
        return await self.inbound.send(url, from_=from_, body=body, to=to, signature=signature)

    # -- inspection helpers -----------------------------------------------------------------
    def messages(self, account_sid: str = SANDBOX_CREDENTIALS["account_sid"]) -> list[dict[str, Any]]:
        """Every message the account accepted, oldest first (the stored resource JSON)."""
        return list(self._accounts[account_sid].messages)

    def calls(self, account_sid: str = SANDBOX_CREDENTIALS["account_sid"]) -> list[dict[str, Any]]:
        """Every call the account placed, oldest first (``_twiml``: the TwiML it ran, updates included)."""
        return list(self.calls_api.calls[account_sid])

    async def callbacks_settled(self, timeout_s: float = 5.0) -> None:
        """Wait until every status callback started so far has been POSTed (or failed)."""
        async with asyncio.timeout(timeout_s):
            while self._callback_tasks:
                await asyncio.gather(*list(self._callback_tasks), return_exceptions=True)

    def reset_state(self) -> None:
        for account in self._accounts.values():
            account.messages.clear()
        self.calls_api.reset()
        self.callbacks.clear()

    def error_body(self, status: int) -> Any:
        if status == 429:
            return _error_body(429, 20429, "Too Many Requests")
        if status >= 500:
            return _error_body(status, 20500, "An internal server error has occurred")
        return _error_body(status, status, f"HTTP {status}")

    async def stop(self) -> None:
        await self.inbound.aclose()
        for task in list(self._callback_tasks):
            task.cancel()
        await asyncio.gather(*list(self._callback_tasks), return_exceptions=True)
        if self._callback_session is not None:
            await self._callback_session.close()
            self._callback_session = None
        await super().stop()

    def _read_route(self, path: str, handler: Handler) -> None:
        """A GET route; with ``read_faults`` off it skips the fault plan (faults hit sends only)."""

        async def unfaulted(request: web.Request) -> web.StreamResponse:
            if self.read_faults:
                return await self._serve(request, handler)
            rec = RecordedRequest(
                at_s=time.monotonic(),
                wall_s=time.time(),
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body="",
            )
            self.requests.append(rec)
            if self.faults.latency_s:
                await asyncio.sleep(self.faults.latency_s)
            response = await handler(request, rec)
            rec.status = response.status
            return response

        self.app.router.add_get(path, unfaulted)

    # -- handlers ---------------------------------------------------------------------------
    def _authorise(self, request: web.Request) -> _Account:
        sid = request.match_info["sid"]
        user, token = _basic_auth(request.headers.get("Authorization", ""))
        expected = self._tokens.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), token.encode()):
            raise TwilioError(401, 20003, "Authenticate")
        if user != sid:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        return self._accounts[sid]

    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        try:
            account = self._authorise(request)
            form = dict(parse_qsl(rec.body, keep_blank_values=True))
            message = self._accept(request.match_info["sid"], form)
        except TwilioError as err:
            return err.response()
        account.messages.append(message)
        callback = form.get("StatusCallback")
        if callback and self.status_callbacks and not self.hold_queued:
            task = asyncio.get_running_loop().create_task(self._send_callbacks(callback, account, message))
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)
        answer = dict(_public(message), status="accepted" if message["messaging_service_sid"] else "queued")
        answer["date_sent"] = None
        return web.json_response(answer, status=201)

    def _accept(self, sid: str, form: Mapping[str, str]) -> dict[str, Any]:
        to = form.get("To", "").strip()
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or None
        if service is None and sender is None:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if service is not None and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            raise TwilioError(400, 21705, "The Messaging Service is invalid.")
        body = form.get("Body")
        if not body:
            raise TwilioError(400, 21602, "Message body is required.")
        if not _valid_e164(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if len(body) > _BODY_MAX_CHARS:
            raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            raise TwilioError(400, 21624, "Invalid validity period value")
        refused = self.refuse.get(to)
        if refused is not None:
            status, text = _REFUSALS.get(refused, (400, f"Error {refused}"))
            raise TwilioError(status, refused, text.format(to=to))
        now = datetime.now(UTC)
        msid = "SM" + uuid.uuid4().hex
        stamp = _rfc2822(now)
        return {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": None if self.hold_queued else stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or self.from_number,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": msid,
            "status": ("accepted" if service else "queued") if self.hold_queued else "delivered",
            "subresource_uris": {"media": f"{_API.format(sid=sid)}/Messages/{msid}/Media.json"},
            "to": to,
            "uri": f"{_API.format(sid=sid)}/Messages/{msid}.json",
            "_sent_at": None if self.hold_queued else now,
        }

    async def _fetch(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        try:
            account = self._authorise(request)
        except TwilioError as err:
            return err.response()
        for message in account.messages:
            if message["sid"] == request.match_info["msid"]:
                return web.json_response(_public(message))
        return TwilioError(404, 20404, f"The requested resource {request.path} was not found").response()

    async def _list(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        try:
            account = self._authorise(request)
            query = request.query
            page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
            token = query.get("PageToken", "")
            start = int(token[2:]) if token.startswith("PA") and token[2:].isdigit() else page * page_size
            checks = _date_checks(query)
        except TwilioError as err:
            return err.response()
        except ValueError:
            return TwilioError(400, 20001, "Invalid paging parameter").response()
        to, sender = query.get("To"), query.get("From")
        matched = [
            m
            for m in reversed(account.messages)  # newest first, as Twilio lists them
            if (to is None or m["to"] == to)
            and (sender is None or m["from"] == sender)
            and (not checks or (m["_sent_at"] is not None and all(check(m["_sent_at"]) for check in checks)))
        ]
        chosen = matched[start : start + page_size]
        filters = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]
        path = request.path

        def uri(page_no: int, token: str | None = None) -> str:
            params = [*filters, ("PageSize", str(page_size)), ("Page", str(page_no))]
            if token:
                params.append(("PageToken", token))
            return f"{path}?{urlencode(params)}"

        page_no = start // page_size
        more = start + page_size < len(matched)
        return web.json_response(
            {
                "end": start + len(chosen) - 1 if chosen else 0,
                "first_page_uri": uri(0),
                "messages": [_public(m) for m in chosen],
                "next_page_uri": uri(page_no + 1, f"PA{start + page_size}") if more else None,
                "page": page_no,
                "page_size": page_size,
                "previous_page_uri": uri(page_no - 1, f"PB{start - page_size}") if start > 0 else None,
                "start": start,
                "uri": uri(page_no),
            }
        )

    # -- status callbacks ---------------------------------------------------------------------
    async def _send_callbacks(self, url: str, account: _Account, message: Mapping[str, Any]) -> None:
        if self._callback_session is None:
            self._callback_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        validator = RequestValidator(account.auth_token)
        for status in ("sent", "delivered"):
            params = {
                "AccountSid": message["account_sid"],
                "ApiVersion": "2010-04-01",
                "From": message["from"],
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "To": message["to"],
            }
            if message["messaging_service_sid"]:
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            if status == "delivered":
                params["RawDlrDoneDate"] = message["_sent_at"].strftime("%y%m%d%H%M")
            signature = validator.compute_signature(url, params)
            headers = {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": uuid.uuid4().hex}
            try:
                async with self._callback_session.post(url, data=params, headers=headers) as resp:
                    answered = resp.status
            except (aiohttp.ClientError, TimeoutError):
                answered = 0
            self.callbacks.append(CallbackRecord(url, params, signature, answered))


def _public(message: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _basic_auth(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _valid_e164(number: str) -> bool:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _date_checks(query: Mapping[str, str]) -> list[Any]:
    """Filters for ``DateSent`` (on that day), ``DateSent>`` (on or after), ``DateSent<`` (on or before).

    Values are ``YYYY-MM-DD`` (whole days, GMT) or ISO 8601 date-times (``…T…Z``).
    """
    checks: list[Any] = []
    for key, op in (("DateSent", "="), ("DateSent>", ">"), ("DateSent<", "<")):
        raw = query.get(key)
        if raw is None:
            continue
        raw = raw.lstrip("=")  # tolerate "DateSent>==…" from hand-written URLs
        try:
            if _DATE_ONLY.match(raw):
                day = date.fromisoformat(raw)
                checks.append(_day_check(op, day))
            else:
                when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                checks.append(_time_check(op, when))
        except ValueError:
            raise TwilioError(400, 20001, f"Invalid {key} value: {raw}") from None
    return checks


def _day_check(op: str, day: date) -> Any:
    if op == "=":
        return lambda sent: sent.date() == day
    if op == ">":
        return lambda sent: sent.date() >= day
    return lambda sent: sent.date() <= day


def _time_check(op: str, when: datetime) -> Any:
    if op == "=":
        return lambda sent: sent.date() == when.date()
    if op == ">":
        return lambda sent: sent >= when
    return lambda sent: sent <= when
