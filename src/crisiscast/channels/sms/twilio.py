"""The twilio SDK's HTTP transport for crisiscast, and the one map from its errors to ours.

``TwilioTransport`` subclasses the SDK's ``AsyncTwilioHttpClient`` and replaces its
``request``:

- the ``https://api.twilio.com`` origin (or any ``*.twilio.com`` edge/region host) is replaced
  by ``sms.api_base_url``, so the same code reaches Twilio, the sandbox or any faithful fake;
- NO SDK-level retries: ``max_retries`` wraps the session in ``aiohttp_retry``, whose defaults
  retry POSTs on every 5xx and could send a crisis text twice. crisiscast's retry stage decides;
- ONE ``aiohttp.ClientSession`` for all requests (``crisiscast.channels.http``: pooled, traced,
  so "did the request leave?" is known exactly), made inside the running loop. The SDK's own
  client makes its session in ``__init__`` (outside any loop) or, with
  ``pool_connections=False``, one session per request — neither suits a 50,000-recipient
  fan-out;
- network failures become ``Transient`` (nothing was sent: refused, connect timeout) or
  ``Ambiguous`` (sent, answer lost: read timeout, disconnect) right in the transport;
- the SDK's request/response logging (eager ``str.format`` on every call) is skipped.

The SDK raises ``TwilioRestException`` without the response headers, so the transport keeps
the last response of the current task in a context variable: ``capture_response()`` lets
``translate_error`` read ``Retry-After`` of a 429.

``translate_error`` is the only place where twilio SDK and aiohttp exceptions become
crisiscast ``DeliveryError``s; its messages are built from status codes and Twilio error codes
only, so they can never carry the auth token.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse

from crisiscast.channels import http
from crisiscast.channels.base import parse_retry_after_s
from crisiscast.channels.http import SessionHolder, translate_exception
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited

__all__ = ["CapturedResponse", "TwilioTransport", "capture_response", "translate_error"]


@dataclass(slots=True)
class CapturedResponse:
    """The status and headers of the last HTTP response seen in this task."""

    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)


_TWILIO_API = "https://api.twilio.com/"
_CAPTURE: contextvars.ContextVar[CapturedResponse | None] = contextvars.ContextVar(
    "crisiscast_twilio_response", default=None
)


class capture_response:  # lower case: used like the function it replaced, ``with capture_response() as c``
    """Record the next response's status and headers for this task (see ``translate_error``).

    A plain class, not ``@contextmanager``: it wraps every send, and a generator-based
    context manager costs several times more per use.
    """

    __slots__ = ("_holder", "_token")

    def __init__(self) -> None:
        self._holder = CapturedResponse()
        self._token: contextvars.Token[CapturedResponse | None] | None = None

    def __enter__(self) -> CapturedResponse:
        self._token = _CAPTURE.set(self._holder)
        return self._holder

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CAPTURE.reset(self._token)
            self._token = None


class TwilioTransport(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK transport pointed at ``base_url``: one traced session, no retries, no SDK logging."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, pool_key: str | None = None) -> None:
        super().__init__(pool_connections=False, timeout=timeout_s, max_retries=None)
        self.base_url = base_url.rstrip("/")
        self._sessions = SessionHolder(
            timeout_s=timeout_s, connect_timeout_s=min(timeout_s, 5.0), pool_key=pool_key
        )
        self._auth_for: tuple[str, str] | None = None
        self._auth_header = ""

    async def start(self) -> None:
        """Open the pooled session (idempotent; must run inside the event loop)."""
        self._sessions.get()

    async def close(self) -> None:
        """Close the session; safe to call twice."""
        await self._sessions.aclose()

    def rewrite(self, url: str) -> str:
        """``https://api.twilio.com/2010-04-01/…`` → ``{base_url}/2010-04-01/…``."""
        if url.startswith(_TWILIO_API):
            return self.base_url + url[len(_TWILIO_API) - 1 :]
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            return self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return url

    async def request(  # noqa: PLR0917 - the SDK calls it with this positional signature
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - part of the SDK's signature; ours is set once
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        """Exactly one HTTP request. Network failures raise classified ``DeliveryError``s."""
        all_headers = dict(headers or {})
        if auth is not None:
            if self._auth_for != auth:
                self._auth_for, self._auth_header = auth, _basic_auth(auth[0], auth[1])
            all_headers["Authorization"] = self._auth_header
        # The form is encoded here, once, instead of through aiohttp's FormData (cheaper per request).
        body = encode_form(data) if data else None
        if body is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        response = await http.request(
            self._sessions.get(),
            method.upper(),
            self.rewrite(url),
            provider="Twilio",
            headers=all_headers,
            data=body,
            params={k: str(v) for k, v in params.items()} if params else None,
        )
        holder = _CAPTURE.get()
        if holder is not None:
            holder.status = response.status
            holder.headers = response.headers
        return TwilioResponse(response.status, response.text(), response.headers)


# Plain reasons for the Twilio error codes a crisis SMS meets; others get a generic sentence.
_REASONS: Mapping[int, str] = {
    20003: "Twilio rejected the account SID or auth token; check channels.sms.account_sid "
    "and CRISISCAST_TWILIO_AUTH_TOKEN",
    20404: "Twilio does not know this account or resource; check channels.sms.account_sid",
    21211: "the phone number is not a valid number",
    21212: "the sender number (channels.sms.from_number) is not valid",
    21408: "SMS to this country or region is not enabled on the Twilio account",
    21602: "the message body is empty",
    21603: "no sender is configured (channels.sms.messaging_service_sid or from_number)",
    21604: "the recipient phone number is missing",
    21606: "the sender number is not an SMS-capable Twilio number of this account",
    21608: "the Twilio trial account cannot send to this unverified number",
    21610: "the recipient has opted out (replied STOP)",
    21614: "the number cannot receive SMS (not a mobile number)",
    21617: "the message is longer than Twilio's 1,600-character limit",
    21624: "the validity period is outside 1–36,000 seconds",
    21635: "the number is a landline and cannot receive SMS",
    21701: "the Messaging Service does not exist on this account; check channels.sms.messaging_service_sid",
    21705: "the Messaging Service SID is not valid; check channels.sms.messaging_service_sid",
}


SENDER_QUEUE_FULL = 21611  # "This 'From' number has exceeded the maximum number of queued messages"
SENDER_QUEUE_FULL_WAIT_S = 60.0


def translate_error(exc: BaseException, response: CapturedResponse | None = None) -> DeliveryError:
    """Classify one failed Twilio request.

    - HTTP 429 or code 20429 → ``RateLimited`` (``Retry-After`` honoured when present);
    - code 21611 (the sender's queue is full; the message was not created) → ``RateLimited``,
      waiting ``Retry-After`` or a minute;
    - HTTP 5xx → ``Ambiguous`` (Twilio may have queued the message before failing);
    - other 4xx → ``Permanent`` with the Twilio code and a plain reason;
    - connection refused / DNS / connect timeout (the request never left) → ``Transient``;
    - read timeout, reset or disconnect after the request was written, or an unreadable
      success body → ``Ambiguous``.
    """
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status)
        code = _int_or_none(exc.code)
        if code == status:  # the SDK fills in the HTTP status when the body carried no code
            code = None
        headers = response.headers if response is not None else {}
        return _classify_status(status, code, headers)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return translate_exception(exc, provider="Twilio", sent=None)
    page_status = _page_error_status(exc)
    if page_status is not None:  # a list page Twilio answered with an error ("Unable to fetch page")
        status, code = page_status
        return _classify_status(status, code, response.headers if response is not None else {})
    if isinstance(exc, json.JSONDecodeError | TwilioException):
        return Ambiguous("Twilio's answer could not be read", code="bad_response")
    return Ambiguous(f"the request to Twilio failed unexpectedly ({type(exc).__name__})", code="unexpected")


def _classify_status(status: int, code: int | None, headers: Mapping[str, str]) -> DeliveryError:
    code_text = str(code) if code is not None else f"http_{status}"
    if status == 429 or code == 20429:
        retry_after_s = parse_retry_after_s(headers.get("Retry-After"))
        return RateLimited(
            "Twilio is throttling the account (too many requests)",
            code=code_text,
            status=status,
            retry_after_s=retry_after_s,
        )
    if code == SENDER_QUEUE_FULL:  # the message was not created: safe to retry, later
        return RateLimited(
            "Twilio's queue for this sender is full (more than 10 hours of messages); it will be retried",
            code=code_text,
            status=status,
            retry_after_s=parse_retry_after_s(headers.get("Retry-After")) or SENDER_QUEUE_FULL_WAIT_S,
        )
    if status >= 500:
        return Ambiguous(
            f"Twilio failed with HTTP {status}; the message may have been queued",
            code=code_text,
            status=status,
        )
    reason = _REASONS.get(code) if code is not None else None
    if reason is None:
        reason = f"Twilio refused the message (HTTP {status}" + (f", error {code})" if code else ")")
    return Permanent(reason, code=code_text, status=status)


def encode_form(data: Mapping[str, object]) -> bytes:
    """``urlencode(data, doseq=True).encode()``, byte for byte, with the quoting of each value cached.

    A fan-out sends the same body (and sender, validity, flags) to thousands of numbers, and
    ``quote_plus`` walks a long body byte by byte in Python on every request; the cache
    makes that once per distinct value. Lists and tuples repeat the key, as ``doseq`` does.
    """
    parts: list[str] = []
    for key, value in data.items():
        k = _quote(key if isinstance(key, str) else str(key))
        if isinstance(value, list | tuple):
            parts.extend(f"{k}={_quote_value(v)}" for v in value)
        else:
            parts.append(f"{k}={_quote_value(value)}")
    return "&".join(parts).encode()


_PLAIN = re.compile(r"[A-Za-z0-9_.~+-]*")  # quote_plus keeps these as they are, but "+"


def _quote(text: str) -> str:
    # A phone number differs on every request (a cache miss): quote_plus would walk it byte by
    # byte in Python. Text of only unreserved characters and "+" needs "+" → "%2B" alone.
    if _PLAIN.fullmatch(text):
        return text.replace("+", "%2B")
    return _quote_cached(text)


@functools.lru_cache(maxsize=512)
def _quote_cached(text: str) -> str:
    return quote_plus(text)


def _quote_value(value: object) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bytes):
        return quote_plus(value)
    return _quote(str(value))


def _basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _page_error_status(exc: BaseException) -> tuple[int, int | None] | None:
    """The HTTP status and Twilio code of a failed list page (the SDK raises a bare
    ``TwilioException("Unable to fetch page", response)`` for those)."""
    if not isinstance(exc, TwilioException) or len(exc.args) < 2:
        return None
    status = _int_or_none(getattr(exc.args[1], "status_code", None))
    if status is None:
        return None
    try:
        body = json.loads(getattr(exc.args[1], "text", "") or "{}")
    except json.JSONDecodeError:
        body = {}
    code = _int_or_none(body.get("code")) if isinstance(body, dict) else None
    return status, code


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
