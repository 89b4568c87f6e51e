"""X's weighted post length (twitter-text configuration v3).

The count follows X's published rules: the text is NFC-normalised; code points in the
"light" ranges (Latin, Greek, Cyrillic, Hebrew, Arabic … up to U+10FF, and some
punctuation) weigh 1, everything else 2; a whole emoji sequence weighs 2; every URL weighs
23 (t.co wrapping). The counting engine is the ``twitter-text-parser`` package, pinned by
X's own conformance vectors in ``tests/data``.
"""

from __future__ import annotations

from typing import Any

from twitter_text import parse_tweet
from twitter_text.config import config as _twitter_configs

__all__ = ["TWEET_MAX_WEIGHTED", "tweet_length", "tweet_urls"]

TWEET_MAX_WEIGHTED = 280
"""The most a post may weigh (``maxWeightedTweetLength`` of configuration v3)."""

_CONFIGS: dict[int, dict[str, Any]] = {
    2: {**_twitter_configs["version2"], "emoji_parsing_enabled": False},
    3: _twitter_configs["version3"],
}


def tweet_length(text: str, *, version: int = 3) -> int:
    """The weighted length X gives ``text`` (default configuration v3, as X counts today).

    ``version=2`` selects the older configuration without emoji discounting; it exists so that
    the conformance group written for it can be checked. Raises ``ValueError`` for any other
    version.
    """
    try:
        options = _CONFIGS[version]
    except KeyError:
        raise ValueError(f"twitter-text configuration version {version} is not supported") from None
    return int(parse_tweet(text, options).weightedLength)


def tweet_urls(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` code-point spans X recognises as URLs in ``text`` (each weighs 23)."""
    from twitter_text import extract_urls_with_indices

    return [(int(u["indices"][0]), int(u["indices"][1])) for u in extract_urls_with_indices(text)]
