"""The Mastodon preview: each status or thread as it will be posted, with Mastodon's count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.mastodon.adapt import adapt_mastodon
from crisiscast.channels.mastodon.config import MastodonConfig
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["MastodonPreview", "StatusThread", "preview_mastodon"]


@dataclass(frozen=True, slots=True)
class StatusThread:
    language: str
    parts: tuple[str, ...]
    characters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MastodonPreview:
    max_characters: int
    visibility: str
    threads: tuple[StatusThread, ...]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "max_characters": self.max_characters,
            "visibility": self.visibility,
            "renderings": [
                {"language": t.language, "parts": list(t.parts), "characters": list(t.characters)}
                for t in self.threads
            ],
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [
            PreviewPanel(
                t.language,
                t.parts,
                "characters (links count 23) "
                + ", ".join(str(n) for n in t.characters)
                + f" of {self.max_characters}, {self.visibility}",
            )
            for t in self.threads
        ]

    def summary(self) -> str | None:
        return None


def preview_mastodon(message: CrisisMessage, settings: Settings, config: MastodonConfig) -> MastodonPreview:
    """The statuses ``message`` becomes on Mastodon (``PolicyError`` when it cannot fit)."""
    renderings = adapt_mastodon(
        message, settings.policy, max_characters=config.max_characters, max_parts=config.max_thread_parts
    )
    return MastodonPreview(
        max_characters=config.max_characters,
        visibility=config.visibility,
        threads=tuple(
            StatusThread(r.language, tuple(r.parts), tuple(int(n) for n in r.metrics["characters"]))
            for r in renderings
        ),
    )
