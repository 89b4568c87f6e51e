"""Composing a message's words into one body of text (before labels and channel limits)."""

from __future__ import annotations

from collections.abc import Sequence

from crisiscast.message import MessageText

__all__ = ["compose", "compose_bilingual"]


def compose(
    text: MessageText,
    *,
    separator: str = "\n\n",
    description: bool = True,
    web: str | None = None,
    include_web: bool = True,
) -> str:
    """Headline, instruction, description and link, non-empty ones joined by ``separator``.

    ``web`` replaces the message's own link (e.g. without tracking parameters).
    """
    link = (web if web is not None else text.web) if include_web else None
    fields = [text.headline, text.instruction, text.description if description else "", link or ""]
    return separator.join(f for f in fields if f)


def compose_bilingual(texts: Sequence[MessageText], *, separator: str = "\n\n") -> str:
    """Every language's headline, instruction and description, then the link(s) once each."""
    blocks = [compose(t, separator="\n", include_web=False) for t in texts]
    links = list(dict.fromkeys(t.web for t in texts if t.web))
    return separator.join([*blocks, *links])
