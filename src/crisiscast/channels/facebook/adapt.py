"""Facebook Page posts: the whole message, one post per language or one bilingual post.

A Page post may hold 63,206 characters, far more than a message can carry, so a bilingual
post always fits and nothing is ever cut.
"""

from __future__ import annotations

from crisiscast.adapt.compose import compose, compose_bilingual
from crisiscast.adapt.labels import finish, label_for
from crisiscast.adapt.languages import bilingual_code, text_for, wants_bilingual
from crisiscast.adapt.model import Adapted
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage

__all__ = ["FACEBOOK_POST_MAX_CHARS", "adapt_facebook"]

FACEBOOK_POST_MAX_CHARS = 63206


def adapt_facebook(message: CrisisMessage, policy: PolicyConfig) -> list[Adapted]:
    """The Facebook renderings of ``message`` (one bilingual post, or one per language).

    Raises ``PolicyError`` for PHI (unless ``allow_phi``).
    """
    label = label_for(message, policy)
    if wants_bilingual(message, policy):
        body = compose_bilingual([text_for(message, lang, "facebook") for lang in message.languages])
        renderings = [finish(label, bilingual_code(message), [body], _metrics)]
    else:
        renderings = [
            finish(label, lang, [compose(text_for(message, lang, "facebook"))], _metrics)
            for lang in message.languages
        ]
    for rendering in renderings:
        if len(rendering.parts[0]) > FACEBOOK_POST_MAX_CHARS:
            raise PolicyError(
                f"The Facebook post is {len(rendering.parts[0])} characters but a post may hold "
                f"{FACEBOOK_POST_MAX_CHARS}; shorten the description."
            )
    return renderings


def _metrics(parts: tuple[str, ...]) -> dict[str, int]:
    return {"characters": len(parts[0])}
