"""Preview data: exactly what each channel will send, per language, with its measures.

``preview_message`` is pure data for the CLI (``crisiscast preview``, ``--json``): it renders
every selected, enabled channel with the same functions the channels use, so the preview is
the text that goes out. A channel whose policy refuses (too long, PHI …) carries an ``error``
sentence instead of renderings, and the sentence is repeated in the top-level ``errors`` list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crisiscast.adapt.languages import contact_language
from crisiscast.channels.banner.adapt import adapt_banner
from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.mqtt.adapt import adapt_mqtt
from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.channels.twitter.text import TWEET_MAX_WEIGHTED
from crisiscast.config import Settings
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, Status

__all__ = ["CHANNEL_NAMES", "preview_message"]

CHANNEL_NAMES = ("twitter", "facebook", "sms", "banner", "mqtt")


def preview_message(
    message: CrisisMessage,
    settings: Settings,
    recipients_by_language: Mapping[str, int],
    *,
    allow_phi: bool = False,
) -> dict[str, Any]:
    """Everything the commander needs to see before sending ``message``.

    ``recipients_by_language`` counts the SMS recipients by their contact language (unknown
    languages fall back to the message's main language). Returns::

        {"message": {...}, "channels": {name: {...}}, "skipped": [{"channel", "reason"}],
         "errors": ["<channel>: <sentence>", ...]}
    """
    channels: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    errors: list[str] = []
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "twitter": lambda: _twitter(message, settings, allow_phi),
        "facebook": lambda: _facebook(message, settings, allow_phi),
        "sms": lambda: _sms(message, settings, recipients_by_language),
        "banner": lambda: {"document": adapt_banner(message, settings.policy, allow_phi=allow_phi)},
        "mqtt": lambda: {"document": adapt_mqtt(message, settings.policy, allow_phi=allow_phi)},
    }
    for name in CHANNEL_NAMES:
        if message.channels is not None and name not in message.channels:
            skipped.append({"channel": name, "reason": "not selected for this message"})
            continue
        if not getattr(settings.channels, name).enabled:
            skipped.append({"channel": name, "reason": "disabled in the configuration"})
            continue
        try:
            channels[name] = builders[name]()
        except PolicyError as exc:
            channels[name] = {"error": str(exc)}
            errors.append(f"{name}: {exc}")
    return {
        "message": {
            "id": message.identifier,
            "status": message.status.value,
            "msg_type": message.msg_type.value,
            "severity": message.severity.value,
            "languages": list(message.languages),
            "exercise": message.status is not Status.ACTUAL,
            "expires_at": message.expires.isoformat() if message.expires else None,
        },
        "channels": channels,
        "skipped": skipped,
        "errors": errors,
    }


def _twitter(message: CrisisMessage, settings: Settings, allow_phi: bool) -> dict[str, Any]:
    max_parts = settings.channels.twitter.max_thread_parts
    renderings = adapt_x(message, settings.policy, max_parts=max_parts, allow_phi=allow_phi)
    return {
        "max_weighted_length": TWEET_MAX_WEIGHTED,
        "max_thread_parts": max_parts,
        "renderings": [
            {
                "language": r.language,
                "parts": list(r.parts),
                "weighted_lengths": list(r.metrics["weighted_lengths"]),
            }
            for r in renderings
        ],
    }


def _facebook(message: CrisisMessage, settings: Settings, allow_phi: bool) -> dict[str, Any]:
    renderings = adapt_facebook(message, settings.policy, allow_phi=allow_phi)
    return {
        "renderings": [
            {"language": r.language, "text": r.parts[0], "characters": r.metrics["characters"]}
            for r in renderings
        ]
    }


def _sms(
    message: CrisisMessage, settings: Settings, recipients_by_language: Mapping[str, int]
) -> dict[str, Any]:
    sms = settings.channels.sms
    counts: dict[str, int] = {}
    asked: dict[str, list[str]] = {}
    for language, count in recipients_by_language.items():
        rendered = contact_language(message, language)
        counts[rendered] = counts.get(rendered, 0) + count
        asked.setdefault(rendered, []).append(language)
    if not counts:
        counts[message.language] = 0
    renderings: list[dict[str, Any]] = []
    total_recipients = total_segments = 0
    for language in message.languages:
        if language not in counts:
            continue
        adapted = adapt_sms(message, language, sms, settings.policy)
        recipients = counts[language]
        segments = int(adapted.metrics["segments"])
        total_recipients += recipients
        total_segments += recipients * segments
        renderings.append(
            {
                "language": language,
                "contact_languages": sorted(asked.get(language, [])),
                "text": adapted.parts[0],
                "encoding": adapted.metrics["encoding"],
                "segments": segments,
                "characters": adapted.metrics["characters"],
                "dropped": list(adapted.metrics["dropped"]),
                "recipients": recipients,
                "segments_total": recipients * segments,
                "cost": _cost(recipients * segments, sms.price_per_segment),
            }
        )
    return {
        "segment_budget": sms.segment_budget,
        "smart_encoding": sms.smart_encoding,
        "price_per_segment": sms.price_per_segment,
        "renderings": renderings,
        "recipients": total_recipients,
        "segments_total": total_segments,
        "cost": _cost(total_segments, sms.price_per_segment),
    }


def _cost(segments: int, price_per_segment: float | None) -> float | None:
    return None if price_per_segment is None else round(segments * price_per_segment, 4)
