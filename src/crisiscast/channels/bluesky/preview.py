"""The Bluesky preview: each post or thread as it will be posted, in graphemes and bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.bluesky.adapt import adapt_bluesky
from crisiscast.channels.bluesky.config import BlueskyConfig
from crisiscast.channels.bluesky.text import MAX_BYTES, MAX_GRAPHEMES
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["BlueskyPreview", "PostThread", "preview_bluesky"]


@dataclass(frozen=True, slots=True)
class PostThread:
    language: str
    parts: tuple[str, ...]
    graphemes: tuple[int, ...]
    bytes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BlueskyPreview:
    threads: tuple[PostThread, ...]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "max_graphemes": MAX_GRAPHEMES,
            "max_bytes": MAX_BYTES,
            "renderings": [
                {
                    "language": t.language,
                    "parts": list(t.parts),
                    "graphemes": list(t.graphemes),
                    "bytes": list(t.bytes),
                }
                for t in self.threads
            ],
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [
            PreviewPanel(
                t.language,
                t.parts,
                "graphemes "
                + ", ".join(str(n) for n in t.graphemes)
                + f" of {MAX_GRAPHEMES}; bytes "
                + ", ".join(str(n) for n in t.bytes)
                + f" of {MAX_BYTES}",
            )
            for t in self.threads
        ]

    def summary(self) -> str | None:
        return None


def preview_bluesky(message: CrisisMessage, settings: Settings, config: BlueskyConfig) -> BlueskyPreview:
    """The posts ``message`` becomes on Bluesky (``PolicyError`` when it cannot fit)."""
    return BlueskyPreview(
        tuple(
            PostThread(
                r.language,
                tuple(r.parts),
                tuple(int(n) for n in r.metrics["graphemes"]),
                tuple(int(n) for n in r.metrics["bytes"]),
            )
            for r in adapt_bluesky(message, settings.policy, max_parts=config.max_thread_parts)
        )
    )
