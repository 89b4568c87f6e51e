"""A Mastodon status's length, counted as Mastodon counts it.

Mastodon's ``StatusLengthValidator`` counts extended grapheme clusters, after two
concessions: every ``http(s)://`` link counts as 23 characters, whatever its length, and a
remote mention ``@user@instance`` counts as ``@user``. The limit is the instance's
``configuration.statuses.max_characters`` (``GET /api/v2/instance``), 500 on a stock
instance.
"""

from __future__ import annotations

import re

import grapheme

__all__ = ["DEFAULT_MAX_CHARACTERS", "URL_CHARACTERS", "status_length"]

DEFAULT_MAX_CHARACTERS = 500
URL_CHARACTERS = 23

# A link as Mastodon's extractor finds it: with its scheme, up to whitespace, without the
# sentence punctuation that may follow it.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_REMOTE_MENTION = re.compile(r"(?<![\w@/])@(\w+)@[\w.-]*\w", re.UNICODE)


def status_length(text: str) -> int:
    """The characters Mastodon counts for ``text`` (links as 23, remote mentions as local)."""

    def url(match: re.Match[str]) -> str:
        link = match.group(0)
        kept = link.rstrip(_TRAILING)
        return "x" * URL_CHARACTERS + link[len(kept) :]

    countable = _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), _URL.sub(url, text))
    return int(grapheme.length(countable))
