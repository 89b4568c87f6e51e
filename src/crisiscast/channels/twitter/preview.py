"""The X preview: each thread as it will be posted, with X's weighted length of every post."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.channels.twitter.config import TwitterConfig
from crisiscast.channels.twitter.text import TWEET_MAX_WEIGHTED
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["ThreadPreview", "TwitterPreview", "preview_twitter"]


@dataclass(frozen=True, slots=True)
class ThreadPreview:
    language: str
    parts: tuple[str, ...]
    weighted_lengths: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TwitterPreview:
    max_weighted_length: int
    max_thread_parts: int
    threads: tuple[ThreadPreview, ...]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "max_weighted_length": self.max_weighted_length,
            "max_thread_parts": self.max_thread_parts,
            "renderings": [
                {"language": t.language, "parts": list(t.parts), "weighted_lengths": list(t.weighted_lengths)}
                for t in self.threads
            ],
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [
            PreviewPanel(
                t.language,
                t.parts,
                "weighted length " + ", ".join(str(n) for n in t.weighted_lengths)
                + f" of {self.max_weighted_length}",
            )
            for t in self.threads
        ]

    def summary(self) -> str | None:
        return None


def preview_twitter(message: CrisisMessage, settings: Settings, config: TwitterConfig) -> TwitterPreview:
    """The threads ``message`` becomes on X (``PolicyError`` when it cannot fit)."""
    renderings = adapt_x(message, settings.policy, max_parts=config.max_thread_parts)
    return TwitterPreview(
        max_weighted_length=TWEET_MAX_WEIGHTED,
        max_thread_parts=config.max_thread_parts,
        threads=tuple(
            ThreadPreview(r.language, tuple(r.parts), tuple(int(n) for n in r.metrics["weighted_lengths"]))
            for r in renderings
        ),
    )
