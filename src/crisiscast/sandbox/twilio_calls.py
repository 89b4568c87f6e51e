"""The Calls API of the Twilio fake (``FakeTwilio``): outbound calls, their list, and their callbacks.

Routes (``{Sid}`` an account SID the fake knows; auth, faults and the request log are
``FakeTwilio``'s, so they behave exactly like the Messages routes)::

    POST /2010-04-01/Accounts/{Sid}/Calls.json             create (form-encoded)
    GET  /2010-04-01/Accounts/{Sid}/Calls.json             list: To, From, Status, StartTime,
                                                            StartTime>, StartTime<, PageSize, Page, PageToken
    GET  /2010-04-01/Accounts/{Sid}/Calls/{CallSid}.json   fetch one
    POST /2010-04-01/Accounts/{Sid}/Calls/{CallSid}.json   update (``Twiml``, ``Status``)

What create checks, answering with Twilio's error body: ``To`` present (21201) and a valid
number (21211), ``From`` present (21213) and one of the fake's caller numbers (21210), one of
``Url``/``Twiml``/``ApplicationSid`` (21205), ``Twiml`` at most 4,000 characters (32018) and
well-formed TwiML with a ``<Response>`` root (12100 — Twilio reports that one when the call
runs; the fake refuses at once), ``Timeout`` 1–600 (21207), ``MachineDetection`` ``Enable``
or ``DetectMessageEnd`` (21218). Numbers in ``call_refuse`` answer their code (21215 no geo
permission, 21216 blocked, 21219 unverified on a trial account).

How a call goes is scripted per number: ``call_outcomes[number]`` is a list consumed one
call at a time (then ``default_outcome``): ``human`` (answered by a person, completed),
``machine`` (an answering machine, completed), ``busy``, ``no-answer``, ``failed``, or
``ringing`` (never answered nor ended, for a caller that gives up waiting). The create answer
says ``queued`` as Twilio's does; the stored call already has its final status.

Callbacks, signed with ``X-Twilio-Signature`` like the SMS receipts and recorded in
``fake.callbacks``: the ``StatusCallbackEvent`` events asked for (initiated, ringing,
answered, completed — a busy/unanswered/failed call's completed event carries that status)
to ``StatusCallback``; ``AnsweredBy`` to ``AsyncAmdStatusCallback``; and, when a person
answers, the key ``press_digits`` ("1"; None: no key) to the ``<Gather action>`` URL of the
TwiML — the answer's body (TwiML) is kept in the record.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode

import aiohttp
from aiohttp import web
from defusedxml import ElementTree as ET
from defusedxml.common import DefusedXmlException
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from crisiscast.sandbox.common import RecordedRequest
    from crisiscast.sandbox.twilio import FakeTwilio

__all__ = ["CALL_OUTCOMES", "CallsApi"]

CALL_OUTCOMES = ("human", "machine", "busy", "no-answer", "failed", "ringing")
TWIML_MAX_CHARS = 4000
_FINAL = {"human": "completed", "machine": "completed", "busy": "busy", "no-answer": "no-answer",
          "failed": "failed", "ringing": "ringing"}  # fmt: skip
_REFUSALS: Mapping[int, str] = {
    21215: "Account not authorized to call {to}. Perhaps you need to enable some international permissions.",
    21216: "Account not allowed to call {to}",
    21219: "The number {to} is unverified. Trial accounts may only make calls to verified numbers.",
}


def _rfc2822(when: datetime) -> str:
    from crisiscast.sandbox.twilio import _rfc2822 as fmt

    return fmt(when)


class CallsApi:
    """The Calls routes and state of one ``FakeTwilio``."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.calls: dict[str, list[dict[str, Any]]] = {sid: [] for sid in fake._tokens}
        base = "/2010-04-01/Accounts/{sid}"
        fake.route("POST", base + "/Calls.json", self._create)
        fake.route("POST", base + "/Calls/{csid}.json", self._update)
        fake._read_route(base + "/Calls.json", self._list)
        fake._read_route(base + "/Calls/{csid}.json", self._fetch)

    def reset(self) -> None:
        for calls in self.calls.values():
            calls.clear()

    # -- create ---------------------------------------------------------------------------------
    async def _create(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        from crisiscast.sandbox.twilio import TwilioError

        try:
            account = self.fake._authorise(request)
            form = {k: v[-1] for k, v in parse_qs(rec.body, keep_blank_values=True).items()}
            events = [v for k, v in parse_qsl(rec.body) if k == "StatusCallbackEvent"]
            call = self._accept(request.match_info["sid"], form)
        except TwilioError as err:
            return err.response()
        self.calls[call["account_sid"]].append(call)
        task = asyncio.get_running_loop().create_task(self._callbacks(account.auth_token, call, form, events))
        self.fake._callback_tasks.add(task)
        task.add_done_callback(self.fake._callback_tasks.discard)
        answer = dict(_public(call), status="queued", start_time=None, end_time=None, duration=None)
        answer["answered_by"] = None
        return web.json_response(answer, status=201)

    def _accept(self, sid: str, form: Mapping[str, str]) -> dict[str, Any]:
        from crisiscast.sandbox.twilio import TwilioError, _valid_e164

        to, sender = form.get("To", "").strip(), form.get("From", "").strip()
        if not to:
            raise TwilioError(400, 21201, "No 'To' number is specified")
        if not sender:
            raise TwilioError(400, 21213, "No 'From' number is specified")
        if not _valid_e164(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender not in self.fake.caller_ids:
            raise TwilioError(
                400,
                21210,
                f"The source phone number provided, {sender}, is not yet verified for your account.",
            )
        twiml = form.get("Twiml")
        if not (form.get("Url") or twiml or form.get("ApplicationSid")):
            raise TwilioError(400, 21205, "Url parameter is required.")
        if twiml is not None:
            _check_twiml(twiml)
        timeout = form.get("Timeout")
        if timeout is not None and not (timeout.isdigit() and 1 <= int(timeout) <= 600):
            raise TwilioError(400, 21207, "Timeout must be between 1 and 600 seconds")
        detection = form.get("MachineDetection")
        if detection is not None and detection not in ("Enable", "DetectMessageEnd"):
            raise TwilioError(400, 21218, "MachineDetection must be Enable or DetectMessageEnd")
        refused = self.fake.call_refuse.get(to)
        if refused is not None:
            raise TwilioError(400, refused, _REFUSALS.get(refused, "Error {to}").format(to=to))
        queue = self.fake.call_outcomes.get(to)
        outcome = queue.pop(0) if queue else self.fake.default_outcome
        now = datetime.now(UTC)
        stamp = _rfc2822(now)
        status = _FINAL[outcome]
        answered = outcome in ("human", "machine")
        csid = "CA" + uuid.uuid4().hex
        uri = f"/2010-04-01/Accounts/{sid}/Calls/{csid}.json"
        return {
            "account_sid": sid,
            "annotation": None,
            "answered_by": ("human" if outcome == "human" else "machine_end_beep") if answered else None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "duration": "21" if answered else "0",
            "end_time": stamp if status != "ringing" else None,
            "forwarded_from": None,
            "from": sender,
            "from_formatted": sender,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + "0" * 32,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": csid,
            "start_time": stamp if outcome != "failed" else None,
            "status": status,
            "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json")},
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": uri,
            "_outcome": outcome,
            "_started_at": now if outcome != "failed" else None,
            "_twiml": [twiml] if (twiml := form.get("Twiml")) else [],
        }

    # -- read, update -----------------------------------------------------------------------------
    def _find(self, request: web.Request) -> dict[str, Any] | None:
        for call in self.calls[request.match_info["sid"]]:
            if call["sid"] == request.match_info["csid"]:
                return call
        return None

    async def _fetch(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        from crisiscast.sandbox.twilio import TwilioError

        try:
            self.fake._authorise(request)
        except TwilioError as err:
            return err.response()
        call = self._find(request)
        if call is None:
            return TwilioError(404, 20404, f"The requested resource {request.path} was not found").response()
        return web.json_response(_public(call))

    async def _update(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        from crisiscast.sandbox.twilio import TwilioError

        try:
            self.fake._authorise(request)
            call = self._find(request)
            if call is None:
                raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
            form = dict(parse_qsl(rec.body, keep_blank_values=True))
            if "Twiml" in form:
                _check_twiml(form["Twiml"])
                call["_twiml"].append(form["Twiml"])
            if form.get("Status") in ("canceled", "completed"):
                call["status"] = form["Status"]
        except TwilioError as err:
            return err.response()
        return web.json_response(_public(call))

    async def _list(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        from crisiscast.sandbox.twilio import TwilioError, _date_checks

        try:
            self.fake._authorise(request)
            query = request.query
            page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            token = query.get("PageToken", "")
            start = (
                int(token[2:])
                if token.startswith("PA") and token[2:].isdigit()
                else (max(int(query.get("Page", "0")), 0) * page_size)
            )
            renamed = {
                k.replace("StartTime", "DateSent"): v for k, v in query.items() if k.startswith("StartTime")
            }
            checks = _date_checks(renamed)
        except TwilioError as err:
            return err.response()
        except ValueError:
            return TwilioError(400, 20001, "Invalid paging parameter").response()
        to, sender, status = query.get("To"), query.get("From"), query.get("Status")
        matched = [
            c
            for c in reversed(self.calls[request.match_info["sid"]])  # newest first, as Twilio lists them
            if (to is None or c["to"] == to)
            and (sender is None or c["from"] == sender)
            and (status is None or c["status"] == status)
            and (not checks or (c["_started_at"] is not None and all(ch(c["_started_at"]) for ch in checks)))
        ]
        chosen = matched[start : start + page_size]
        filters = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]
        more = start + page_size < len(matched)
        page_no = start // page_size

        def uri(page: int, token: str | None = None) -> str:
            params = [*filters, ("PageSize", str(page_size)), ("Page", str(page))]
            if token:
                params.append(("PageToken", token))
            return f"{request.path}?{urlencode(params)}"

        return web.json_response(
            {
                "calls": [_public(c) for c in chosen],
                "end": start + len(chosen) - 1 if chosen else 0,
                "first_page_uri": uri(0),
                "next_page_uri": uri(page_no + 1, f"PA{start + page_size}") if more else None,
                "page": page_no,
                "page_size": page_size,
                "previous_page_uri": uri(page_no - 1, f"PB{start - page_size}") if start > 0 else None,
                "start": start,
                "uri": uri(page_no),
            }
        )

    # -- callbacks --------------------------------------------------------------------------------
    async def _callbacks(
        self, auth_token: str, call: dict[str, Any], form: Mapping[str, str], events: list[str]
    ) -> None:
        outcome = call["_outcome"]
        if outcome == "ringing":
            return
        validator = RequestValidator(auth_token)
        base = {
            "AccountSid": call["account_sid"],
            "ApiVersion": "2010-04-01",
            "CallSid": call["sid"],
            "Direction": "outbound-api",
            "From": call["from"],
            "To": call["to"],
        }
        status_url = form.get("StatusCallback")
        wanted = set(events or ["completed"])
        answered = outcome in ("human", "machine")
        progress: list[tuple[str, str]] = [("initiated", "initiated")]
        if outcome != "failed":
            progress.append(("ringing", "ringing"))
        if answered:
            progress.append(("answered", "in-progress"))
        sequence = 0
        for event, status in progress:
            if status_url and event in wanted:
                await self._post(
                    validator, status_url, {**base, "CallStatus": status, "SequenceNumber": str(sequence)}
                )
                sequence += 1
        amd_url = form.get("AsyncAmdStatusCallback")
        if answered and amd_url and form.get("AsyncAmd") == "true":
            await self._post(
                validator,
                amd_url,
                {**base, "AnsweredBy": call["answered_by"], "MachineDetectionDuration": "2300"},
            )
        gather_url = _gather_action(call["_twiml"][0]) if call["_twiml"] else None
        if outcome == "human" and gather_url and self.fake.press_digits:
            await self._post(
                validator,
                gather_url,
                {**base, "CallStatus": "in-progress", "Digits": self.fake.press_digits, "FinishedOnKey": ""},
            )
        if status_url:
            final = {
                **base,
                "CallStatus": call["status"],
                "SequenceNumber": str(sequence),
                "CallDuration": call["duration"],
            }
            await self._post(validator, status_url, final)

    async def _post(self, validator: RequestValidator, url: str, params: dict[str, str]) -> None:
        from crisiscast.sandbox.twilio import CallbackRecord

        fake = self.fake
        if fake._callback_session is None:
            fake._callback_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        signature = validator.compute_signature(url, params)
        headers = {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": uuid.uuid4().hex}
        answer = ""
        try:
            async with fake._callback_session.post(url, data=params, headers=headers) as resp:
                answered, answer = resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            answered = 0
        fake.callbacks.append(CallbackRecord(url, params, signature, answered, answer))


def _check_twiml(twiml: str) -> None:
    from crisiscast.sandbox.twilio import TwilioError

    if len(twiml) > TWIML_MAX_CHARS:
        raise TwilioError(400, 32018, "Twiml size exceeded maximum allowed value of 4000 characters")
    try:
        root = ET.fromstring(twiml)
    except (ET.ParseError, DefusedXmlException):
        raise TwilioError(400, 12100, "Document parse failure") from None
    if root.tag != "Response":
        raise TwilioError(400, 12100, "Document parse failure: the root element is not <Response>")


def _gather_action(twiml: str) -> str | None:
    gather = ET.fromstring(twiml).find(".//Gather")
    return gather.get("action") if gather is not None else None


def _public(call: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in call.items() if not k.startswith("_")}
