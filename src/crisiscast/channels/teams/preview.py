"""The Teams preview: the card's words as staff will read them, its colour and size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.teams.adapt import CARD_MAX_BYTES, card_size, teams_payload
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["TeamsPreview", "preview_teams", "readable"]


def _lines(elements: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for element in elements:
        if element["type"] == "TextBlock":
            out.append(element["text"])
        elif element["type"] == "Container":
            out.extend(_lines(element["items"]))
        elif element["type"] == "FactSet":
            out.append(" · ".join(f"{f['title']}: {f['value']}" for f in element["facts"]))
    return out


def readable(payload: dict[str, Any]) -> str:
    """The card's words in order, one element a line (the button as ``[title] url``)."""
    card = payload["attachments"][0]["content"]
    lines = _lines(card["body"])
    lines.extend(f"[{a['title']}] {a['url']}" for a in card.get("actions", []))
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
