"""Replies from staff phones, sent by the Twilio fake to ``serve`` as Twilio would.

Twilio delivers an inbound SMS to the number's webhook as a form-encoded POST signed with
``X-Twilio-Signature`` (HMAC-SHA1 of the URL and the sorted parameters, keyed with the auth
token; computed with the twilio SDK's ``RequestValidator``). ``InboundSender.send`` does the
same; ``signature="none"`` leaves the header out and ``signature="forged"`` signs with a wrong
token, to rehearse refused requests. Each reply gets a fresh ``SM…`` MessageSid.

Over HTTP (for drills and other processes)::

    POST /_sandbox/inbound   {"url": ..., "from": "+1617…", "body": "1", "to"?: ..., "signature"?: ...}
                             → {"status": <serve's HTTP status>, "body": <serve's answer>}
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from crisiscast.sandbox.twilio import FakeTwilio

__all__ = ["InboundReply", "InboundSender", "Signature"]

Signature = Literal["valid", "none", "forged"]
_FORGED_TOKEN = "not-the-auth-token-0000000000000000"  # noqa: S105 (a wrong key, on purpose)


@dataclass(frozen=True, slots=True)
class InboundReply:
    """What ``serve`` answered one inbound message: its HTTP status and body (TwiML or JSON)."""

    sid: str
    status: int
    body: str


class InboundSender:
    """Sends signed inbound-message webhooks for a ``FakeTwilio``; one HTTP session, reused."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.sent: list[InboundReply] = []
        self._session: aiohttp.ClientSession | None = None
        fake.app.router.add_post("/_sandbox/inbound", self._post)

    async def send(
        self,
        url: str,
        *,
        from_: str,
        body: str,
        to: str | None = None,
        signature: Signature = "valid",
        account_sid: str | None = None,
    ) -> InboundReply:
        """POST one inbound message to ``url`` (``serve``'s ``/v1/twilio/inbound``) as Twilio would."""
        sid, token = self.fake.account(account_sid)
        message_sid = "SM" + uuid.uuid4().hex
        params = {
            "AccountSid": sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_,
            "MessageSid": message_sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": message_sid,
            "SmsSid": message_sid,
            "SmsStatus": "received",
            "To": to or self.fake.from_number,
        }
        headers = {"I-Twilio-Idempotency-Token": uuid.uuid4().hex}
        if signature != "none":
            key = token if signature == "valid" else _FORGED_TOKEN
            headers["X-Twilio-Signature"] = RequestValidator(key).compute_signature(url, params)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        async with self._session.post(url, data=params, headers=headers) as resp:
            reply = InboundReply(message_sid, resp.status, await resp.text())
        self.sent.append(reply)
        return reply

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            return web.json_response({"error": "send a JSON object"}, status=400)
        fields = ("url", "from", "body")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in fields):
            return web.json_response({"error": 'give "url", "from" and "body" as text'}, status=400)
        signature = data.get("signature", "valid")
        if signature not in ("valid", "none", "forged"):
            return web.json_response({"error": 'signature is "valid", "none" or "forged"'}, status=400)
        try:
            reply = await self.send(
                data["url"], from_=data["from"], body=data["body"], to=data.get("to"), signature=signature
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"the webhook could not be delivered ({type(exc).__name__})"
            return web.json_response({"error": error}, status=502)
        return web.json_response({"sid": reply.sid, "status": reply.status, "body": reply.body})
