"""``[channels.voice]``: the Twilio account and number, the contacts file, and the call policy.

Twilio starts **one call per second** per account by default (its "CPS", raised in the
console), so ``max_requests_per_s`` defaults to 1.0: 500 calls take at least 8 min 20 s just
to start. ``send`` holds its slot until the call is answered or ends, so ``max_concurrency`` is
how many calls may ring at once. Busy and unanswered calls are dialled again after
``redial_wait_s``, at most ``redial_attempts`` times; ``deadline_s`` (30 min) leaves room for
those redials.

The channel is off unless the section says ``enabled = true`` (the shipped configuration
does): turning calls on is a decision, never a side effect of an upgrade.
"""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["VoiceConfig"]


class VoiceConfig(ChannelSection):
    enabled: bool = False  # opt-in: a configuration written before calls existed never starts calling
    api_base_url: str = "https://api.twilio.com"
    account_sid: str = ""
    from_number: str | None = None  # a voice-capable Twilio number (or verified caller ID), E.164
    contacts: str = "config/contacts.csv"
    default_region: str = "US"
    caller_name: str = "the hospital"  # spoken: "This is an urgent message from <caller_name>."
    callback_base_url: str | None = None  # how Twilio reaches `crisiscast serve`; default server.public_url
    ring_timeout_s: int = Field(default=30, ge=5, le=600)  # Twilio's Timeout: ring this long
    machine_detection: bool = True  # answering machines get the short voicemail version
    gather_timeout_s: int = Field(default=8, ge=1, le=60)  # how long "press 1" waits for a key
    redial_attempts: int = Field(default=2, ge=0, le=10)  # busy / no-answer: call again at most N times
    redial_wait_s: float = Field(default=120.0, ge=0)
    poll_interval_s: float = Field(default=2.0, gt=0)  # at most this long between two looks at the call
    max_call_wait_s: float = Field(default=180.0, gt=0)  # send gives up waiting (Ambiguous) after this
    twiml_max_chars: int = Field(default=4000, ge=500, le=4000)  # Twilio's limit on inline TwiML
    max_concurrency: int = Field(default=50, ge=1)
    max_requests_per_s: float | None = Field(default=1.0, gt=0)
    burst: int = Field(default=1, ge=1)
    deadline_s: float = Field(default=1800.0, gt=0)
