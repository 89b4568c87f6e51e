"""A message's words in one language, as the sentences the gate checks.

The headline is a sentence of its own (it rarely ends with a full stop); the description and
the instruction are split after ``.``, ``!`` and ``?``. The web link is kept apart: it is
checked as a link, not read as prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Sentence", "Words", "split_sentences"]

_SPLIT = re.compile(r"(?<=[.!?])\s+")
_FIELDS = ("headline", "description", "instruction")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence and the field it came from (headline, description, instruction)."""

    field: str
    text: str


@dataclass(frozen=True, slots=True)
class Words:
    """The text of one language: headline, description, instruction, web link."""

    language: str
    headline: str
    description: str = ""
    instruction: str = ""
    web: str | None = None

    def sentences(self) -> tuple[Sentence, ...]:
        out: list[Sentence] = []
        for name in _FIELDS:
            out.extend(Sentence(name, s) for s in split_sentences(getattr(self, name)))
        return tuple(out)

    def prose(self) -> str:
        """The sentences joined as running text, each ending with punctuation (for readability)."""
        parts = []
        for s in self.sentences():
            text = s.text.rstrip()
            parts.append(text if text[-1:] in ".!?" else text + ".")
        return " ".join(parts)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (whitespace collapsed, empty pieces dropped)."""
    flat = " ".join(text.split())
    return [piece for piece in _SPLIT.split(flat) if piece.strip()] if flat else []
