"""The Slack preview: the notification text and the blocks as staff will read them.

One part: ``Notification: <text>``, a blank line, then the blocks' words, one block a line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.slack.adapt import slack_payload
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["SlackPreview", "preview_slack", "readable"]


def readable(payload: dict[str, Any]) -> str:
    """The blocks' words in order, one block a line (buttons as ``[title] url``)."""
    lines: list[str] = []
    for block in payload["attachments"][0]["blocks"]:
        if block["type"] in ("header", "section"):
            lines.append(block["text"]["text"])
        elif block["type"] == "actions":
            lines.extend(f"[{e['text']['text']}] {e['url']}" for e in block["elements"])
        elif block["type"] == "context":
            lines.extend(e["text"] for e in block["elements"])
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class SlackPreview:
    language: str
    payload: dict[str, Any]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = json.loads(json.dumps(self.payload))
        return {"payload": data, "bytes": self.size}

    @property
    def size(self) -> int:
        return len(json.dumps(self.payload, ensure_ascii=False).encode("utf-8"))

    def panels(self) -> Sequence[PreviewPanel]:
        colour = self.payload["attachments"][0]["color"]
        blocks = len(self.payload["attachments"][0]["blocks"])
        return [
            PreviewPanel(
                self.language,
                (f"Notification: {self.payload['text']}\n\n{readable(self.payload)}",),
                f"notification + {blocks} blocks · colour {colour} · {self.size} bytes of JSON",
            )
        ]

    def summary(self) -> str | None:
        return None


def preview_slack(message: CrisisMessage, settings: Settings) -> SlackPreview:
    return SlackPreview(message.language, slack_payload(message, settings.policy))
