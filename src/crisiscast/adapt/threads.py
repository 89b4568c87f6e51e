"""One post, or a numbered thread, under any channel's own length measure.

For channels that post threads of short public posts (Mastodon statuses, Bluesky posts):
``thread_bodies(text, label, fits=..., max_parts=...)`` returns the unlabelled bodies. A
thread

* is numbered ``1/3``, ``2/3`` … at the end of each post;
* carries the headline first and the link in the first post;
* is cut at sentence boundaries, and a sentence too long for a post at word boundaries;
  a word (or link) that does not fit a post on its own is refused, never cut.

``fits(text)`` is the channel's measure of a whole labelled post (graphemes with links
weighed as the provider weighs them, bytes …). More posts than ``max_parts`` →
``PolicyError`` saying how many it would need and which setting raises the bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crisiscast.adapt.compose import compose
from crisiscast.adapt.labels import Label
from crisiscast.errors import PolicyError
from crisiscast.message import MessageText
from crisiscast.text.split import sentence_spans, words

__all__ = ["thread_bodies"]

SECTION_BREAK = "\n\n"


@dataclass(frozen=True, slots=True)
class _Unit:
    sep: str  # what goes before the unit inside a post
    text: str
    splittable: bool  # a sentence (may be cut into words)


def thread_bodies(
    text: MessageText,
    label: Label,
    *,
    fits: Callable[[str], bool],
    max_parts: int,
    what: str,
    setting: str,
) -> list[str]:
    """The bodies (unlabelled) of the post or thread for ``text``.

    ``what`` names the post in errors ("Mastodon status"); ``setting`` is the configuration
    key that bounds the thread ("channels.mastodon.max_thread_parts").
    """
    single = compose(text)
    if fits(label.apply(single)):
        return [single]
    if not fits(label.apply(_render("x", 1, 99, text.web))):
        raise PolicyError(
            f"The Exercise/Test marker and the link leave no room for text in a {what}; shorten the marker."
        )
    sections = [s for s in (text.headline, text.instruction, text.description) if s]
    units = [
        _Unit(SECTION_BREAK if i and j == 0 else gap, sentence, True)
        for i, section in enumerate(sections)
        for j, (gap, sentence) in enumerate(sentence_spans(section))
    ]
    guess = 2
    while True:
        total = guess

        def fits_part(index: int, content: str, total: int = total) -> bool:
            return fits(label.apply(_render(content, index, total, text.web)))

        parts = _pack(units, fits_part, what)
        if len(str(len(parts))) <= len(str(guess)):
            break
        guess = len(parts)
    if len(parts) > max_parts:
        raise PolicyError(
            f"The {what} thread needs {len(parts)} posts but at most {max_parts} are allowed; shorten "
            f"the description or instruction, or raise {setting}."
        )
    return [_render(p, i, len(parts), text.web) for i, p in enumerate(parts, start=1)]


def _render(content: str, index: int, total: int, web: str | None) -> str:
    link = f"\n{web}" if index == 1 and web else ""
    return f"{content}{link} {index}/{total}"


def _pack(units: list[_Unit], fits: Callable[[int, str], bool], what: str) -> list[str]:
    """Greedy: a unit joins the current post if it fits, else starts the next post; a sentence
    too long for a post of its own is replaced by its words."""
    parts: list[str] = []
    current = ""
    queue = list(reversed(units))
    while queue:
        unit = queue.pop()
        candidate = f"{current}{unit.sep}{unit.text}" if current else unit.text
        if fits(len(parts) + 1, candidate):
            current = candidate
            continue
        if current and fits(len(parts) + 2, unit.text):
            parts.append(current)
            current = unit.text
            continue
        if unit.splittable:
            pieces = words(unit.text)
            queue.extend(
                reversed([_Unit(unit.sep if i == 0 else " ", w, False) for i, w in enumerate(pieces)])
            )
            continue
        if not current:
            raise PolicyError(
                f"A word or link of {len(unit.text)} characters is too long for a {what} even on its "
                "own; shorten it."
            )
        parts.append(current)
        current = ""
        queue.append(unit)
    if current:
        parts.append(current)
    return parts
