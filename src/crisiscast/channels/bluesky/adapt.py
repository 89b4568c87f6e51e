"""Bluesky posts: one post when the message fits, else a numbered thread per language.

Every post holds at most 300 graphemes and 3,000 UTF-8 bytes
(``crisiscast.channels.bluesky.text``), the Exercise/Test marker and the numbering included;
links count in full (Bluesky does not shorten them). A bilingual post is used when the
policy asks for one and it fits; otherwise each language is its own post or thread
(``crisiscast.adapt.threads``).
"""

from __future__ import annotations

from crisiscast.adapt.compose import compose_bilingual
from crisiscast.adapt.labels import finish, label_for
from crisiscast.adapt.languages import bilingual_code, text_for, wants_bilingual
from crisiscast.adapt.model import Adapted
from crisiscast.adapt.threads import thread_bodies
from crisiscast.channels.bluesky.text import fits_post, post_bytes, post_graphemes
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_bluesky"]

NAME = "bluesky"


def adapt_bluesky(message: CrisisMessage, policy: PolicyConfig, *, max_parts: int) -> list[Adapted]:
    """The Bluesky renderings of ``message`` (``PolicyError`` when a thread would be too long)."""
    label = label_for(message, policy)
    if wants_bilingual(message, policy):
        body = compose_bilingual([text_for(message, lang, NAME) for lang in message.languages])
        if fits_post(label.apply(body)):
            return [finish(label, bilingual_code(message), [body], _metrics)]
    return [
        finish(
            label,
            lang,
            thread_bodies(
                text_for(message, lang, NAME),
                label,
                fits=fits_post,
                max_parts=max_parts,
                what="Bluesky post",
                setting="channels.bluesky.max_thread_parts",
            ),
            _metrics,
        )
        for lang in message.languages
    ]


def _metrics(parts: tuple[str, ...]) -> dict[str, list[int]]:
    return {"graphemes": [post_graphemes(p) for p in parts], "bytes": [post_bytes(p) for p in parts]}
