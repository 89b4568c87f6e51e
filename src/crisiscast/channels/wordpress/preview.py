"""The WordPress preview: the post's title, slug and HTML content, as they will be sent.

The panel shows the title, a blank line, then the HTML content: one post, one part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.wordpress.adapt import WordPressPost, wordpress_post
from crisiscast.config import Settings
from crisiscast.message import CrisisMessage, MsgType

__all__ = ["WordPressPreview", "preview_wordpress"]


@dataclass(frozen=True, slots=True)
class WordPressPreview:
    post: WordPressPost
    edits_original: bool
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        p = self.post
        return {
            "title": p.title,
            "content": p.content,
            "slug": p.slug,
            "sticky": p.sticky,
            "characters": p.characters,
            "edits_original": self.edits_original,
        }

    def panels(self) -> Sequence[PreviewPanel]:
        p = self.post
        where = "edits the original post" if self.edits_original else f"slug {p.slug}"
        sticky = "sticky" if p.sticky else "not sticky"
        return [
            PreviewPanel(
                p.language,
                (f"{p.title}\n\n{p.content}",),
                f"{p.characters} characters of HTML · {where} · {sticky}",
            )
        ]

    def summary(self) -> str | None:
        return None


def preview_wordpress(message: CrisisMessage, settings: Settings) -> WordPressPreview:
    """The post ``message`` becomes on the hospital's site (an Update/all-clear edits the original)."""
    follow_up = message.msg_type is not MsgType.ALERT and bool(message.references)
    return WordPressPreview(wordpress_post(message, settings.policy, follow_up=follow_up), follow_up)
