"""Mastodon statuses: one status when the message fits, else a numbered thread per language.

Every status counts at most ``max_characters`` as Mastodon counts them
(``crisiscast.channels.mastodon.text.status_length``: graphemes, links as 23), the
Exercise/Test marker and the numbering included. A bilingual status is used when the policy
asks for one and it fits; otherwise each language is its own status or thread
(``crisiscast.adapt.threads``).
"""

from __future__ import annotations

from crisiscast.adapt.compose import compose_bilingual
from crisiscast.adapt.labels import finish, label_for
from crisiscast.adapt.languages import bilingual_code, text_for, wants_bilingual
from crisiscast.adapt.model import Adapted
from crisiscast.adapt.threads import thread_bodies
from crisiscast.channels.mastodon.text import status_length
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_mastodon"]

NAME = "mastodon"


def adapt_mastodon(
    message: CrisisMessage, policy: PolicyConfig, *, max_characters: int, max_parts: int
) -> list[Adapted]:
    """The Mastodon renderings of ``message`` (``PolicyError`` when a thread would be too long)."""
    label = label_for(message, policy)

    def fits(text: str) -> bool:
        return status_length(text) <= max_characters

    if wants_bilingual(message, policy):
        body = compose_bilingual([text_for(message, lang, NAME) for lang in message.languages])
        if fits(label.apply(body)):
            return [finish(label, bilingual_code(message), [body], _metrics)]
    return [
        finish(
            label,
            lang,
            thread_bodies(
                text_for(message, lang, NAME),
                label,
                fits=fits,
                max_parts=max_parts,
                what="Mastodon status",
                setting="channels.mastodon.max_thread_parts",
            ),
            _metrics,
        )
        for lang in message.languages
    ]


def _metrics(parts: tuple[str, ...]) -> dict[str, list[int]]:
    return {"characters": [status_length(p) for p in parts]}
