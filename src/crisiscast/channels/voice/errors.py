"""Twilio's answers to a call request, in plain words for a call.

``translate_error`` (``crisiscast.channels.sms.twilio``) classifies every Twilio failure —
429/20429 ``RateLimited`` with ``Retry-After``, 5xx ``Ambiguous``, other 4xx ``Permanent``,
network failures ``Transient`` or ``Ambiguous`` — and is shared by both Twilio channels;
``voice_error`` keeps that class and code and replaces the reason with the call's own
sentence where the code is a Calls API one (or names the voice section's settings).
"""

from __future__ import annotations

from collections.abc import Mapping

from crisiscast.channels.sms.twilio import CapturedResponse, translate_error
from crisiscast.errors import Ambiguous, DeliveryError, Permanent

__all__ = ["CALL_REASONS", "voice_error"]

_SMS_WORDING = "Twilio refused the message"

CALL_REASONS: Mapping[str, str] = {
    "20003": "Twilio rejected the account SID or auth token; check channels.voice.account_sid "
    "and CRISISCAST_TWILIO_AUTH_TOKEN",
    "20404": "Twilio does not know this account or resource; check channels.voice.account_sid",
    "21201": "the number to call is missing",
    "21205": "a callback URL is not valid; check channels.voice.callback_base_url or server.public_url",
    "21210": "the caller number (channels.voice.from_number) is not a voice number of this Twilio account",
    "21211": "the phone number is not a valid number",
    "21212": "the caller number (channels.voice.from_number) is not valid",
    "21213": "no caller number is configured (channels.voice.from_number)",
    "21214": "the number cannot be reached by a call",
    "21215": "calls to this country or region are not enabled on the Twilio account "
    "(voice geographic permissions)",
    "21216": "the Twilio account is not allowed to call this number (premium or blocked number)",
    "21217": "the phone number does not appear to be valid",
    "21219": "the Twilio trial account cannot call this unverified number",
    "21220": "the call is no longer in progress, so it could not be changed",
    "32018": "the call's script is over Twilio's 4,000-character TwiML limit; shorten the message",
}


def voice_error(exc: BaseException, response: CapturedResponse | None = None) -> DeliveryError:
    """``translate_error`` with the reasons a call needs (class, code and status unchanged)."""
    err = translate_error(exc, response)
    reason = CALL_REASONS.get(err.code or "")
    if isinstance(err, Permanent) and reason is not None:
        return type(err)(reason, code=err.code, status=err.status)
    if isinstance(err, Permanent) and err.reason.startswith(_SMS_WORDING):
        call_reason = "Twilio refused the call" + err.reason.removeprefix(_SMS_WORDING)
        return type(err)(call_reason, code=err.code, status=err.status)
    if isinstance(err, Ambiguous) and err.status is not None and err.status >= 500:
        return Ambiguous(
            f"Twilio failed with HTTP {err.status}; the call may have been placed",
            code=err.code,
            status=err.status,
        )
    return err
