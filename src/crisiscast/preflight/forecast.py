"""Will it arrive in time? The arrival forecast per channel, from plain numbers.

A provider passes messages at a fixed pace: one Twilio long code sends 1 SMS segment per
second, a toll-free number 3, a short code 100; 10DLC depends on the brand's class and is
configured per account. So 2,000 people × 2 segments on one long code take about 67 minutes,
and the same on a short code about 40 seconds. The forecast takes, per channel, the number
of recipients, the units each needs (SMS segments; 1 for a call, an e-mail or a post), the
provider's pace in units per second, our own request limit, the request latency and the
retry budget, and says when the first, the median (p50), the 95th-percentile and the last
recipient will have the message — with one plain sentence and warnings when the last one
is later than the urgency budget or the message's expiry.

Recipients are served in order at the slower of the two paces; transient failures cost
extra attempts (the expected count with ``failure_rate`` per attempt, at most
``max_attempts``) and the last recipient may wait for its retries on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SENDER_SEGMENTS_PER_S",
    "ChannelForecast",
    "ChannelLoad",
    "forecast",
    "forecast_channel",
    "format_duration",
    "retry_tail_s",
    "sms_load",
]

# Twilio's documented default throughput per sender, in SMS segments per second (US).
SENDER_SEGMENTS_PER_S: dict[str, float] = {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0}

@dataclass(frozen=True, slots=True)
class ChannelLoad:
    """What one channel has to do, in plain numbers."""

    channel: str
    recipients: int
    units_per_s: float  # the provider's pace: SMS segments, calls, e-mails or posts per second
    units_per_recipient: int = 1  # SMS segments per text; 1 for everything else
    requests_per_s: float | None = None  # our own limit on requests (one per recipient), if any
    latency_s: float = 1.0  # from the provider accepting one to the person having it
    failure_rate: float = 0.0  # the share of attempts that fail and are retried (0..1)
    max_attempts: int = 1
    retry_tail_s: float = 0.0  # the longest wait a recipient's retries add (see ``retry_tail_s``)
    sender: str = ""  # "long_code", "toll_free", "short_code", "10dlc" … (texts only, for the advice)
    label: str = ""  # what people call the channel in the sentence ("SMS"); the channel name if empty
    noun: str = "message"  # what reaches one person ("text", "call", "e-mail")
    unit: str = "message"  # what the provider paces ("segment", "call")


@dataclass(frozen=True, slots=True)
class ChannelForecast:
    """When the first, the median, the 95th-percentile and the last recipient have the message."""

    channel: str
    recipients: int
    first_s: float
    p50_s: float
    p95_s: float
    max_s: float
    sentence: str
    warnings: tuple[str, ...] = ()


def _recipients_per_s(load: ChannelLoad) -> float:
    pace = load.units_per_s / max(load.units_per_recipient, 1)
    if load.requests_per_s is not None:
        pace = min(pace, load.requests_per_s)
    return pace


def _attempt_factor(load: ChannelLoad) -> float:
    """The expected attempts per recipient with ``failure_rate`` and at most ``max_attempts``."""
    p, n = min(max(load.failure_rate, 0.0), 0.99), max(load.max_attempts, 1)
    return (1 - p**n) / (1 - p) if p > 0 else 1.0


def _spread(load: ChannelLoad) -> tuple[float, float, float, float, float]:
    """(first, p50, p95, last, retry tail) in seconds, from the start of the send."""
    pace = _recipients_per_s(load) / _attempt_factor(load)
    n = load.recipients

    def at(rank: int) -> float:  # the time the rank-th recipient (1-based) is handed over
        return rank / pace + load.latency_s

    tail = load.retry_tail_s if load.failure_rate > 0 and load.max_attempts > 1 else 0.0
    return at(1), at(math.ceil(0.5 * n)), at(math.ceil(0.95 * n)), at(n) + tail, tail


def format_duration(seconds: float) -> str:
    """ "about 40 s", "about 67 min", "about 2.5 h"."""
    if seconds < 90:
        return f"about {max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def forecast_channel(
    load: ChannelLoad, *, budget_s: float | None = None, expires_in_s: float | None = None
) -> ChannelForecast:
    """The forecast for one channel, with advice and warnings against the budget and the expiry."""
    if load.recipients <= 0:
        return ChannelForecast(load.channel, 0, 0.0, 0.0, 0.0, 0.0, f"{load.channel}: nobody to reach.")
    first, p50, p95, last, _ = _spread(load)
    noun, unit = load.noun, load.unit
    pace = f"{load.units_per_s:g} {unit}{'' if load.units_per_s == 1 else 's'}/s"
    label = load.label or load.channel
    sentence = f"{label}: last of {load.recipients:,} {noun}s in {format_duration(last)} at {pace}"
    sentence += _advice(load, last)
    warnings = []
    if budget_s is not None and last > budget_s:
        warnings.append(
            f"{label}: the last {noun} arrives in {format_duration(last)}, later than the "
            f"{format_duration(budget_s).removeprefix('about ')} this message's urgency allows."
        )
    if expires_in_s is not None and last > expires_in_s:
        warnings.append(
            f"{label}: the last {noun} arrives in {format_duration(last)}, after the message expires "
            f"({format_duration(expires_in_s)} from now); some people would never get it."
        )
    return ChannelForecast(load.channel, load.recipients, first, p50, p95, last, sentence, tuple(warnings))


def _advice(load: ChannelLoad, last: float) -> str:
    if not load.sender or last < 60:  # the advice is about text senders and segments
        return "."
    tips = []
    if load.units_per_recipient > 1:
        shorter = _spread(_with(load, units_per_recipient=1))[3]
        factor = last / shorter if shorter else 1.0
        how = "halve it" if 1.8 <= factor <= 2.2 else f"cut it to {format_duration(shorter)}"
        tips.append(f"shorten to 1 segment to {how}")
    if load.sender != "short_code":
        faster = _spread(_with(load, units_per_s=SENDER_SEGMENTS_PER_S["short_code"], sender="short_code"))[3]
        if faster < last:
            tips.append(f"use the short code ({format_duration(faster)})")
    return " — " + ", or ".join(tips) + "." if tips else "."


def _with(load: ChannelLoad, **changes: object) -> ChannelLoad:
    from dataclasses import replace

    return replace(load, **changes)  # type: ignore[arg-type]


def retry_tail_s(max_attempts: int, deadline_s: float, *, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """The longest the back-off waits of one delivery add up to: the exponential envelope
    (``base_s``·2^(k-1), at most ``cap_s``) summed over the retries, and never past ``deadline_s``."""
    total = sum(min(cap_s, base_s * 2.0 ** min(k - 1, 62)) for k in range(1, max(max_attempts, 1)))
    return min(total, deadline_s)


def forecast(
    loads: Sequence[ChannelLoad], *, budget_s: float | None = None, expires_in_s: float | None = None
) -> list[ChannelForecast]:
    """The forecast of every channel (in the order given)."""
    return [forecast_channel(load, budget_s=budget_s, expires_in_s=expires_in_s) for load in loads]


def sms_load(
    recipients: int,
    segments: int,
    *,
    sender: str = "long_code",
    numbers: int = 1,
    segments_per_s: float | None = None,
    requests_per_s: float | None = None,
    failure_rate: float = 0.0,
    max_attempts: int = 1,
    retry_tail: float = 0.0,
    channel: str = "texts",  # the channel's name in the forecast (the preview passes the spec's)
    label: str = "SMS",
) -> ChannelLoad:
    """A text-message load: the pace is ``segments_per_s`` when given (10DLC), else the sender
    type's default, times the ``numbers`` in the sender pool."""
    if segments_per_s is None:
        if sender not in SENDER_SEGMENTS_PER_S:
            raise ValueError(
                f"sender {sender!r} has no default throughput; set its segments per second "
                f"(known: {', '.join(SENDER_SEGMENTS_PER_S)})"
            )
        segments_per_s = SENDER_SEGMENTS_PER_S[sender]
    return ChannelLoad(
        channel=channel,
        label=label,
        noun="text",
        unit="segment",
        recipients=recipients,
        units_per_s=segments_per_s * max(numbers, 1),
        units_per_recipient=max(segments, 1),
        requests_per_s=requests_per_s,
        failure_rate=failure_rate,
        max_attempts=max_attempts,
        retry_tail_s=retry_tail,
        sender=sender,
    )
