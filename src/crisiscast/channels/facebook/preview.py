"""The Facebook preview: each Page post as it will be created, with its length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage

__all__ = ["FacebookPreview", "PostPreview", "preview_facebook"]


@dataclass(frozen=True, slots=True)
class PostPreview:
    language: str
    text: str
    characters: int


@dataclass(frozen=True, slots=True)
class FacebookPreview:
    posts: tuple[PostPreview, ...]
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "renderings": [
                {"language": p.language, "text": p.text, "characters": p.characters} for p in self.posts
            ]
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [PreviewPanel(p.language, (p.text,), f"{p.characters} characters") for p in self.posts]

    def summary(self) -> str | None:
        return None


def preview_facebook(message: CrisisMessage, settings: Settings) -> FacebookPreview:
    """The posts ``message`` becomes on the Page."""
    return FacebookPreview(
        tuple(
            PostPreview(r.language, r.parts[0], int(r.metrics["characters"]))
            for r in adapt_facebook(message, settings.policy)
        )
    )
