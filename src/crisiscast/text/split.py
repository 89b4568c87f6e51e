"""Splitting text for threads and budgets: grapheme clusters, words, sentences.

Nothing here ever cuts inside a grapheme cluster (a letter with its accents, an emoji with its
skin tone or zero-width joiners, a flag), so text split with these functions always re-joins
to the original.
"""

from __future__ import annotations

import re

import grapheme

__all__ = ["graphemes", "sentence_spans", "sentences", "words"]

# After . ! ? … (and closing quotes/brackets) a space ends a sentence; CJK full stops end one
# even without a space.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|(?<=[。！？])[」』”’）]*\s*")
_WORD_SPACE = re.compile(r"\s+")


def graphemes(text: str) -> list[str]:
    """The extended grapheme clusters of ``text`` (Unicode UAX #29), in order."""
    return list(grapheme.graphemes(text))


def words(text: str) -> list[str]:
    """The whitespace-separated words of ``text`` (no empty strings)."""
    return [w for w in _WORD_SPACE.split(text) if w]


def sentences(text: str) -> list[str]:
    """``text`` cut after sentence-ending punctuation (``. ! ? …`` and CJK full stops).

    Each sentence is stripped; whitespace between sentences is dropped. A text without sentence
    punctuation is one sentence.
    """
    return [sentence for _, sentence in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[str, str]]:
    """Like ``sentences``, each with the separator that stood before it: ``" "`` where there was
    whitespace, ``""`` where there was none (after a CJK full stop) or for the first sentence."""
    spans: list[tuple[str, str]] = []
    start = 0
    gap = ""
    for match in _SENTENCE_END.finditer(text):
        if match.end() <= start:
            continue
        end = match.start() + len(match.group(0).rstrip())
        if text[start:end].strip():
            spans.append((gap if spans else "", text[start:end].strip()))
        gap = " " if match.group(0)[len(match.group(0).rstrip()) :] else ""
        start = match.end()
    if text[start:].strip():
        spans.append((gap if spans else "", text[start:].strip()))
    return spans
