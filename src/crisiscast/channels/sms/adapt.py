"""SMS: the contact's language, Smart Encoding, and a segment budget.

The body is headline, instruction, description and link, one per line, after the marker. With
``SmsConfig.smart_encoding`` (default on) look-alike characters are replaced by GSM-7 ones
*before* counting, so the text counted is exactly the text sent.

Over ``SmsConfig.segment_budget`` the optional parts are dropped, in this order, until it fits:

1. the link's tracking parameters (``utm_*``, ``fbclid``, ``gclid`` …);
2. the description;
3. the link.

A message with a poll ends with how to answer (``Reply 1 = I am safe, 2 = I need help``), in
the contact's language; that line is never dropped.

If the headline and instruction (and the poll line) alone are still over budget: ``PolicyError``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crisiscast.adapt.compose import compose
from crisiscast.adapt.labels import Label, finish, label_for
from crisiscast.adapt.languages import contact_language, text_for
from crisiscast.adapt.model import Adapted
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.sms.segments import SmsSegments, smart_encode, sms_segments
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage
from crisiscast.rollcall.poll import poll_line

__all__ = ["DROP_ORDER", "adapt_sms", "strip_tracking"]

DROP_ORDER = ("tracking_parameters", "description", "link")
"""What is dropped, in order, when an SMS is over its segment budget."""

_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "yclid",
        "twclid",
        "ref_src",
        "s_cid",
    }
)


def strip_tracking(url: str) -> str:
    """``url`` without tracking query parameters (``utm_*`` and the well-known click ids)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in _TRACKING_EXACT)
    ]
    return urlunsplit(parts._replace(query=urlencode(kept, doseq=True)))


def adapt_sms(message: CrisisMessage, language: str, sms: SmsConfig, policy: PolicyConfig) -> Adapted:
    """The SMS for a contact who reads ``language`` (falling back to the message's main language).

    Raises ``PolicyError`` when even headline and instruction exceed the segment budget.
    """
    lang = contact_language(message, language)
    text = text_for(message, lang, "sms")
    label = label_for(message, policy)
    if sms.smart_encoding and smart_encode(label.marker).strip():
        label = Label(smart_encode(label.marker))
    budget = sms.segment_budget
    web = text.web
    short_web = strip_tracking(web) if web else None
    answer_line = f"\n{poll_line(message.poll, lang)}" if message.poll is not None else ""
    candidates: list[tuple[tuple[str, ...], str]] = [
        ((), compose(text, separator="\n") + answer_line),
        (DROP_ORDER[:1], compose(text, separator="\n", web=short_web) + answer_line),
        (DROP_ORDER[:2], compose(text, separator="\n", web=short_web, description=False) + answer_line),
        (DROP_ORDER[:3], compose(text, separator="\n", description=False, include_web=False) + answer_line),
    ]
    counted: SmsSegments | None = None
    for dropped, plain in candidates:
        body = smart_encode(plain) if sms.smart_encoding else plain
        counted = sms_segments(label.apply(body))
        if counted.segments <= budget:
            chosen = _really_dropped(dropped, text.description, web, short_web)

            def metrics(parts: tuple[str, ...], dropped_parts: list[str] = chosen) -> dict[str, object]:
                return _metrics(parts, dropped_parts)

            return finish(label, lang, [body], metrics)
    assert counted is not None
    where = f" ({lang})" if len(message.languages) > 1 else ""
    raise PolicyError(
        f"The SMS{where} needs {counted.segments} segments but the budget is {budget}; "
        "shorten the headline or instruction."
    )


def _really_dropped(
    dropped: tuple[str, ...], description: str, web: str | None, short_web: str | None
) -> list[str]:
    """Only name what was there to drop (no link, no description: nothing dropped)."""
    present = {
        "tracking_parameters": web is not None and web != short_web,
        "description": bool(description),
        "link": web is not None,
    }
    return [d for d in dropped if present[d]]


def _metrics(parts: tuple[str, ...], dropped: list[str]) -> dict[str, object]:
    counted = sms_segments(parts[0])
    return {
        "encoding": counted.encoding,
        "segments": counted.segments,
        "characters": counted.characters,
        "dropped": dropped,
    }
