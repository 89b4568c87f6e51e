"""The LinkedIn preview: each post as readers will see it, its length as sent, and the token's expiry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.linkedin import SPEC
from crisiscast.channels.linkedin.adapt import LINKEDIN_MAX_CHARS, adapt_linkedin
from crisiscast.channels.linkedin.token import token_notice
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage, Status

__all__ = ["LinkedInPostPreview", "LinkedInPreview", "preview_linkedin"]


@dataclass(frozen=True, slots=True)
class LinkedInPostPreview:
    language: str
    text: str
    characters: int  # as sent (reserved characters escaped)
    description_left_out: bool


@dataclass(frozen=True, slots=True)
class LinkedInPreview:
    posts: tuple[LinkedInPostPreview, ...]
    token: str
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "renderings": [
                {
                    "language": p.language,
                    "text": p.text,
                    "characters": p.characters,
                    "description_left_out": p.description_left_out,
                }
                for p in self.posts
            ],
            "token": self.token,
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [
            PreviewPanel(
                p.language,
                (p.text,),
                f"{p.characters} of {LINKEDIN_MAX_CHARS:,} characters"
                + (" · description left out to fit" if p.description_left_out else ""),
            )
            for p in self.posts
        ]

    def summary(self) -> str | None:
        return self.token


def preview_linkedin(message: CrisisMessage, settings: Settings) -> LinkedInPreview:
    """The posts ``message`` becomes on the organization page, and the token's expiry."""
    posts = tuple(
        LinkedInPostPreview(
            r.language, r.parts[0], int(r.metrics["characters"]), bool(r.metrics.get("description_left_out"))
        )
        for r in adapt_linkedin(message, settings.policy)
    )
    exercise = message.status is not Status.ACTUAL
    return LinkedInPreview(posts, token_notice(SPEC.config(settings), exercise=exercise))
