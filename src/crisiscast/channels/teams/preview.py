"""The Teams preview: the card's words as staff will read them, its colour and size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.teams.adapt import CARD_MAX_BYTES, card_size, teams_payload
from crisiscast.config import Settings
from crisiscast.jsontypes import JsonMapping, json_list, json_object, json_str
from crisiscast.jsontypes import JsonValue as JsonData
from crisiscast.message import CrisisMessage

__all__ = ["TeamsPreview", "preview_teams", "readable"]


def _lines(elements: JsonData) -> list[str]:
    out: list[str] = []
    for item in json_list(elements):
        element = json_object(item)
        kind = element.get("type")
        if kind == "TextBlock":
            out.append(json_str(element.get("text")))
        elif kind == "Container":
            out.extend(_lines(element.get("items")))
        elif kind == "FactSet":
            facts = (json_object(f) for f in json_list(element.get("facts")))
            out.append(" · ".join(f"{json_str(f.get('title'))}: {json_str(f.get('value'))}" for f in facts))
    return out


def readable(payload: JsonMapping) -> str:
    """The card's words in order, one element a line (the button as ``[title] url``)."""
    attachments = json_list(payload.get("attachments"))
    card = json_object(json_object(attachments[0]).get("content")) if attachments else {}
    lines = _lines(card.get("body"))
    actions = (json_object(a) for a in json_list(card.get("actions")))
    lines.extend(f"[{json_str(a.get('title'))}] {json_str(a.get('url'))}" for a in actions)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class TeamsPreview:
    language: str
    payload: dict[str, Any]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = json.loads(json.dumps(self.payload))
        return {"payload": data, "bytes": card_size(self.payload)}

    def panels(self) -> Sequence[PreviewPanel]:
        card = self.payload["attachments"][0]["content"]
        style = next(e["style"] for e in card["body"] if e["type"] == "Container")
        measure = f"Adaptive Card · {style} · {card_size(self.payload)} of {CARD_MAX_BYTES:,} bytes"
        return [PreviewPanel(self.language, (readable(self.payload),), measure)]

    def summary(self) -> str | None:
        return None


def preview_teams(message: CrisisMessage, settings: Settings) -> TeamsPreview:
    return TeamsPreview(message.language, teams_payload(message, settings.policy))
