"""LinkedIn organization posts: the whole message as ``commentary``, within 3,000 characters.

One bilingual post when it fits (``bilingual_if_fits``), else one post per language. When a
post would be longer than 3,000 characters the description is left out (the headline,
instruction and link always fit); the preview says so.

``commentary`` is LinkedIn's "little text" format, where ``| { } @ [ ] ( ) < > # \\ * _ ~`` are
markup (mentions, hashtags, templates): LinkedIn drops or mangles the text after an unescaped
one, so each is escaped with a backslash (``escape_little_text``). The limit is counted on
the text as sent.

An Update or all-clear is a new post (see ``channel``) that ends with the original post's
address: ``Earlier post: https://www.linkedin.com/feed/update/urn:li:share:…/``.
"""

from __future__ import annotations

import re

from crisiscast.adapt.compose import compose, compose_bilingual
from crisiscast.adapt.labels import finish, label_for
from crisiscast.adapt.languages import bilingual_code, text_for, wants_bilingual
from crisiscast.adapt.model import Adapted
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage

__all__ = ["EARLIER_POST", "LINKEDIN_MAX_CHARS", "adapt_linkedin", "escape_little_text", "post_url"]

NAME = "linkedin"
LINKEDIN_MAX_CHARS = 3000
EARLIER_POST = {"en": "Earlier post", "es": "Publicación anterior"}
_RESERVED = re.compile(r"([|{}@\[\]()<>#\\*_~])")


def escape_little_text(text: str) -> str:
    """``text`` with LinkedIn's reserved characters backslash-escaped."""
    return _RESERVED.sub(r"\\\1", text)


def post_url(urn: str) -> str:
    """The public address of a post from its URN (``urn:li:share:…`` or ``urn:li:ugcPost:…``)."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def adapt_linkedin(
    message: CrisisMessage, policy: PolicyConfig, *, refers_to: str | None = None
) -> list[Adapted]:
    """The LinkedIn posts of ``message`` (text as readers see it; ``metrics["characters"]`` as sent)."""
    label = label_for(message, policy)

    def tail(language: str) -> str:
        if refers_to is None:
            return ""
        words = EARLIER_POST.get(language.split("-", maxsplit=1)[0], EARLIER_POST["en"])
        return f"\n\n{words}: {post_url(refers_to)}"

    def fits(body: str) -> bool:
        return len(escape_little_text(label.apply(body))) <= LINKEDIN_MAX_CHARS

    if wants_bilingual(message, policy):
        texts = [text_for(message, lang, NAME) for lang in message.languages]
        body = compose_bilingual(texts) + tail(message.language)
        if fits(body):
            return [finish(label, bilingual_code(message), [body], _metrics)]
    renderings = []
    for lang in message.languages:
        text = text_for(message, lang, NAME)
        body = compose(text) + tail(lang)
        shortened = False
        if not fits(body):
            body, shortened = compose(text, description=False) + tail(lang), True
        if not fits(body):
            raise PolicyError(
                f"The LinkedIn post is longer than {LINKEDIN_MAX_CHARS} characters even without the "
                "description; shorten the instruction."
            )
        adapted = finish(label, lang, [body], _metrics)
        if shortened:
            adapted = Adapted(adapted.language, adapted.parts, {**adapted.metrics, "description_left_out": 1})
        renderings.append(adapted)
    return renderings


def _metrics(parts: tuple[str, ...]) -> dict[str, int]:
    return {"characters": len(escape_little_text(parts[0]))}
