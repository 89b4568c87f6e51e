"""X (Twitter): one post when the message fits, else a numbered thread.

Every post weighs at most 280 (X's weighted count, ``crisiscast.channels.twitter.text.tweet_length``),
counting the Exercise/Test marker and the numbering. A thread:

* is numbered ``1/3``, ``2/3`` … at the end of each post, with the alert's time
  (``2/3 · 14:05 UTC``), so no post repeats one of an earlier alert from the same template
  (X refuses duplicates);
* carries the headline first and the link in the first post;
* is cut at sentence boundaries while that stays within ``max_parts``, else at word
  boundaries; a word is cut (between grapheme clusters) only when it alone does not fit a
  post, and a URL is never cut (X counts any URL as 23).

More posts than ``max_parts`` → ``PolicyError`` saying how many it would need.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache

from crisiscast.adapt.compose import compose, compose_bilingual
from crisiscast.adapt.labels import Label, finish, label_for
from crisiscast.adapt.languages import bilingual_code, text_for, wants_bilingual
from crisiscast.adapt.model import Adapted
from crisiscast.channels.twitter.text import TWEET_MAX_WEIGHTED, tweet_length, tweet_urls
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, MessageText
from crisiscast.text.split import graphemes, sentence_spans, words

__all__ = ["adapt_x", "thread_parts"]

SECTION_BREAK = "\n\n"
_LINK = re.compile(r"https?://", re.IGNORECASE)
_WHITESPACE_RUNS = re.compile(r"(\s+)")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of text to place, with the separator that goes before it inside a post."""

    sep: str
    text: str
    level: int  # 0 sentence, 1 word, 2 grapheme run (cannot be cut further)


def adapt_x(
    message: CrisisMessage, policy: PolicyConfig, *, max_parts: int
) -> list[Adapted]:
    """The X renderings of ``message``: one bilingual post if the policy wants it and it fits,
    else one post or thread per language.

    Raises ``PolicyError`` for a thread longer than ``max_parts``.
    """
    label = label_for(message, policy)
    if wants_bilingual(message, policy):
        body = compose_bilingual([text_for(message, lang, "twitter") for lang in message.languages])
        if _fits_one_post(label.apply(body)):
            return [finish(label, bilingual_code(message), [body], _metrics)]
    stamp = alert_stamp(message)
    return [
        finish(
            label,
            lang,
            thread_parts(text_for(message, lang, "twitter"), label, max_parts=max_parts, stamp=stamp),
            _metrics,
        )
        for lang in message.languages
    ]


def alert_stamp(message: CrisisMessage) -> str:
    """The alert's time (``14:05 UTC``), carried by every numbered post of a thread.

    X refuses a post identical to an earlier one of the account: without it, the second alert
    from the same template (another building, the same instruction) repeats the first's
    instruction post word for word and is refused.
    """
    return f"{message.sent.astimezone(UTC):%H:%M} UTC"


def _metrics(parts: tuple[str, ...]) -> dict[str, list[int]]:
    return {"weighted_lengths": [tweet_length(p) for p in parts]}


def thread_parts(text: MessageText, label: Label, *, max_parts: int, stamp: str = "") -> list[str]:
    """The bodies (unlabelled) of the post or thread for ``text``; see the module docstring.

    Each post of a thread ends with its number and ``stamp`` (``2/3 · 14:05 UTC``)."""
    single = compose(text)
    if _fits_one_post(label.apply(single)):
        return [single]
    if not _fits_one_post(label.apply(_render("x", 1, 99, text.web, stamp))):
        raise PolicyError(
            "The Exercise/Test marker and the link leave no room for text in an X post; shorten the marker."
        )
    sections = [s for s in (text.headline, text.instruction, text.description) if s]
    sentence_units = [
        _Unit(SECTION_BREAK if i and j == 0 else gap, sentence, 0)
        for i, section in enumerate(sections)
        for j, (gap, sentence) in enumerate(sentence_spans(section))
    ]
    needed = 0
    for units in (sentence_units, [w for u in sentence_units for w in _words_of(u)]):
        parts = _number_and_pack(units, label, text.web, _fast_length, stamp)
        rendered = _render_all(parts, text.web, stamp)
        if any(tweet_length(label.apply(p)) > TWEET_MAX_WEIGHTED for p in rendered):
            # The fast measure assumes weights add up across whitespace; if X's count ever
            # disagrees, pack again measuring every candidate exactly.
            parts = _number_and_pack(units, label, text.web, tweet_length, stamp)
            rendered = _render_all(parts, text.web, stamp)
        if len(parts) <= max_parts:
            return rendered
        needed = len(parts)
    raise PolicyError(
        f"The X thread needs {needed} posts but at most {max_parts} are allowed; shorten the "
        "description or instruction, or raise channels.twitter.max_thread_parts."
    )


def _render(content: str, index: int, total: int, web: str | None, stamp: str = "") -> str:
    link = f"\n{web}" if index == 1 and web else ""
    tail = f" · {stamp}" if stamp else ""
    return f"{content}{link} {index}/{total}{tail}"


def _render_all(parts: list[str], web: str | None, stamp: str = "") -> list[str]:
    return [_render(p, i, len(parts), web, stamp) for i, p in enumerate(parts, start=1)]


def _fits_one_post(text: str) -> bool:
    """Exact, but asks X's counter only when the cheap sum says it may fit."""
    return _fast_length(text) <= TWEET_MAX_WEIGHTED and tweet_length(text) <= TWEET_MAX_WEIGHTED


@lru_cache(maxsize=16384)
def _piece_length(piece: str) -> int:
    return tweet_length(piece)


def _fast_length(text: str) -> int:
    """X's weighted length as the sum over whitespace-separated pieces (URLs and emoji sequences
    never span whitespace, so this equals ``tweet_length``; the result is verified anyway)."""
    return sum(_piece_length(piece) for piece in _WHITESPACE_RUNS.split(text) if piece)


def _number_and_pack(
    units: list[_Unit], label: Label, web: str | None, measure: Callable[[str], int], stamp: str = ""
) -> list[str]:
    """Pack ``units`` into posts, settling the width of the ``k/n`` numbering."""
    guess = 2
    while True:
        total = guess

        def fits(index: int, content: str, total: int = total) -> bool:
            return measure(label.apply(_render(content, index, total, web, stamp))) <= TWEET_MAX_WEIGHTED

        parts = _pack(units, fits)
        if len(str(len(parts))) <= len(str(guess)):
            return parts
        guess = len(parts)


def _pack(units: list[_Unit], fits: Callable[[int, str], bool]) -> list[str]:
    """Greedy packing: a unit joins the current post if it fits, else starts the next post; a
    unit too big for an empty post is replaced by its smaller pieces."""
    parts: list[str] = []
    current = ""
    queue = list(reversed(units))
    while queue:
        unit = queue.pop()
        candidate = f"{current}{unit.sep}{unit.text}" if current else unit.text
        if fits(len(parts) + 1, candidate):
            current = candidate
            continue
        if current and fits(len(parts) + 2, unit.text) and unit.level < 2:
            parts.append(current)
            current = unit.text
            continue
        pieces = _smaller(unit)
        if pieces is None:
            if not current:
                raise PolicyError(
                    f"A link or word of {len(unit.text)} characters is too long for an X post even on its "
                    "own; shorten it."
                )
            parts.append(current)
            current = ""
            queue.append(unit)
            continue
        queue.extend(reversed(pieces))
    if current:
        parts.append(current)
    return parts


def _words_of(unit: _Unit) -> list[_Unit]:
    found = words(unit.text)
    return [_Unit(unit.sep if i == 0 else " ", w, 1) for i, w in enumerate(found)]


def _smaller(unit: _Unit) -> list[_Unit] | None:
    """``unit`` cut one level finer, or None if it cannot be cut (a grapheme run or a URL)."""
    if unit.level == 0:
        pieces = _words_of(unit)
        return pieces if len(pieces) > 1 else [_Unit(unit.sep, unit.text, 1)]
    if unit.level == 1:
        if tweet_urls(unit.text) or _LINK.search(unit.text):
            return None
        clusters = graphemes(unit.text)
        return [_Unit(unit.sep if i == 0 else "", c, 2) for i, c in enumerate(clusters)]
    return None
