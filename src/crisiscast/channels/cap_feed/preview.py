"""The CAP preview: the exact CAP 1.2 document the feed will serve, and its size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.cap_feed.config import CapConfig
from crisiscast.channels.cap_feed.document import cap_xml
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage, Status

__all__ = ["CapPreview", "preview_cap"]


@dataclass(frozen=True, slots=True)
class CapPreview:
    language: str
    feed_path: str
    document: str
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {"feed_path": self.feed_path, "document": self.document, "bytes": len(self.document.encode())}

    def panels(self) -> Sequence[PreviewPanel]:
        size = len(self.document.encode())
        return [PreviewPanel(self.language, (self.document,), f"CAP 1.2 on {self.feed_path}, {size} bytes")]

    def summary(self) -> str | None:
        return None


def preview_cap(message: CrisisMessage, settings: Settings, config: CapConfig) -> CapPreview:
    """The document ``message`` becomes on the feed it goes to."""
    path = config.feed_path if message.status is Status.ACTUAL else (config.exercise_feed_path or "(none)")
    return CapPreview(message.language, path, cap_xml(message, config, settings.policy))
