"""The WordPress news post: a title, HTML content and a slug, pure and deterministic.

Every word of the message is HTML-escaped (``html.escape``, quotes too) before it is put
between tags, so a headline such as ``Lifts <B> & <C> closed`` reads as written and can never
become markup or a script on the hospital's site. Each language is a ``<div lang="…">`` block
(screen readers and search engines pick the right voice). An Exercise/Test post starts with
the marker in its title and in a first bold paragraph. An Update or all-clear edits the
original post and opens with ``Updated at <time> UTC`` (the follow-up's ``sent`` time, so a
resend renders the same words).

The slug is ``crisiscast-`` and the alert identifier made URL-safe (lower case, ``a-z0-9-``),
so the post can be found by its slug after a crash before anything is created again.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC

from crisiscast.adapt.labels import label_for
from crisiscast.adapt.languages import text_for
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage, MessageText, MsgType

__all__ = ["SLUG_MAX_CHARS", "UPDATED_AT", "WordPressPost", "slug_for", "wordpress_post"]

NAME = "wordpress"
SLUG_MAX_CHARS = 190  # WordPress keeps 200 in post_name; room for its own "-2" suffix
UPDATED_AT = {"en": "Updated at", "es": "Actualizado a las"}


@dataclass(frozen=True, slots=True)
class WordPressPost:
    """One post as it is sent: ``title`` and ``content`` are HTML (escaped words)."""

    language: str
    title: str
    content: str
    slug: str
    sticky: bool

    @property
    def characters(self) -> int:
        return len(self.title) + len(self.content)


def slug_for(identifier: str) -> str:
    """The post's slug from the alert identifier: ``crisiscast-<identifier>``, URL-safe."""
    words = re.sub(r"[^a-z0-9]+", "-", identifier.casefold()).strip("-") or "alert"
    slug = words if words.startswith("crisiscast-") else f"crisiscast-{words}"
    if len(slug) > SLUG_MAX_CHARS:
        digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:12]
        slug = f"{slug[: SLUG_MAX_CHARS - 13].rstrip('-')}-{digest}"
    return slug


def _block(text: MessageText, *, heading: bool) -> list[str]:
    out = [f"<h2>{html.escape(text.headline)}</h2>"] if heading else []
    if text.instruction:
        out.append(f"<p><strong>{html.escape(text.instruction)}</strong></p>")
    for paragraph in (p.strip() for p in text.description.split("\n\n")):
        if paragraph:
            out.append("<p>" + "<br>".join(html.escape(line) for line in paragraph.splitlines()) + "</p>")
    if text.web:
        link = html.escape(str(text.web))
        out.append(f'<p><a href="{link}">{link}</a></p>')
    return out


def wordpress_post(message: CrisisMessage, policy: PolicyConfig, *, follow_up: bool = False) -> WordPressPost:
    """The post ``message`` becomes (``follow_up``: it edits the original post)."""
    label = label_for(message, policy)
    main = text_for(message, message.language, NAME)
    lines: list[str] = []
    if label.marker:
        lines.append(f"<p><strong>{html.escape(label.marker)}</strong></p>")
    if follow_up:
        words = UPDATED_AT.get(message.language.split("-")[0], UPDATED_AT["en"])
        when = message.sent.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        lines.append(f"<p><em>{html.escape(words)} {when} UTC</em></p>")
    for language in message.languages:
        text = text_for(message, language, NAME)
        block = _block(text, heading=language != message.language)
        lines.append(f'<div lang="{html.escape(language)}">' + "\n".join(block) + "</div>")
    return WordPressPost(
        language=message.language,
        title=html.escape(label.apply(main.headline), quote=False),
        content="\n".join(lines),
        slug=slug_for(message.identifier),
        sticky=message.msg_type is not MsgType.CANCEL,
    )
