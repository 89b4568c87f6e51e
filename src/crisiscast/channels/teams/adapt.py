"""The Teams staff alert: one Adaptive Card (1.4) in a Workflows webhook message, pure.

``teams_payload(message, policy)`` is the webhook body ``{"type": "message", "attachments":
[{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}``. The card
opens, for a drill, with a large bold line saying it is a drill; then the headline (with the
marker for a drill) in a full-width container whose style is the severity colour (Extreme and
Severe ``attention`` red, Moderate ``warning`` amber, Minor ``good``, Unknown ``emphasis``; a
drill is always ``accent`` blue), the instruction in bold, the description, each further
language, the severity and type as facts, and a "More information" button for the link.
"""

from __future__ import annotations

import json
from typing import Any

from crisiscast.adapt.labels import label_for
from crisiscast.adapt.languages import text_for
from crisiscast.config import PolicyConfig
from crisiscast.jsontypes import JsonMapping, JsonObject, JsonValue
from crisiscast.message import CrisisMessage, Severity

__all__ = ["CARD_MAX_BYTES", "SEVERITY_STYLES", "card_size", "readable_headline", "teams_payload"]

NAME = "teams"
CARD_MAX_BYTES = 28_000  # Teams refuses messages of about 28 KB and more
SEVERITY_STYLES = {
    Severity.EXTREME: "attention",
    Severity.SEVERE: "attention",
    Severity.MODERATE: "warning",
    Severity.MINOR: "good",
    Severity.UNKNOWN: "emphasis",
}
CARD = "application/vnd.microsoft.card.adaptive"


def _text(text: str, **style: JsonValue) -> JsonObject:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def teams_payload(message: CrisisMessage, policy: PolicyConfig) -> dict[str, Any]:
    """The Workflows webhook body for ``message``."""
    label = label_for(message, policy)
    main = text_for(message, message.language, NAME)
    body: list[JsonObject] = []
    if label.marker:
        body.append(
            _text(
                f"{label.marker} — this is a drill, not a real alert",
                weight="Bolder",
                size="Large",
                color="Accent",
            )
        )
    style = "accent" if label.marker else SEVERITY_STYLES[message.severity]
    headline = _text(label.apply(main.headline), weight="Bolder", size="Large")
    body.append({"type": "Container", "style": style, "bleed": True, "items": [headline]})
    if main.instruction:
        body.append(_text(main.instruction, weight="Bolder"))
    if main.description:
        body.append(_text(main.description))
    for language in message.languages[1:]:
        other = text_for(message, language, NAME)
        body.append(_text(other.headline, weight="Bolder", separator=True))
        for words in (other.instruction, other.description):
            if words:
                body.append(_text(words))
    facts = [
        {"title": "Severity", "value": message.severity.value},
        {"title": "Type", "value": message.msg_type.value},
    ]
    body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    if main.web:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "More information", "url": str(main.web)}]
    return {"type": "message", "attachments": [{"contentType": CARD, "contentUrl": None, "content": card}]}


def card_size(payload: JsonMapping) -> int:
    """The body's size in bytes, as sent."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def readable_headline(payload: dict[str, Any]) -> str:
    """The card's headline (with the marker for a drill): the delivery's body in the audit."""
    card = payload["attachments"][0]["content"]
    container = next(e for e in card["body"] if e["type"] == "Container")
    return str(container["items"][0]["text"])
