"""A Bluesky post's measures and its link facets.

A post's ``text`` may hold at most 300 grapheme clusters and 3,000 UTF-8 bytes (the
``app.bsky.feed.post`` lexicon's ``maxGraphemes``/``maxLength``); links count in full.
A link is only a link in the apps when the record carries a facet for it: a
``app.bsky.richtext.facet#link`` feature over the link's UTF-8 byte range
(``byteStart`` inclusive, ``byteEnd`` exclusive).
"""

from __future__ import annotations

import re
from typing import Any

import grapheme

__all__ = ["MAX_BYTES", "MAX_GRAPHEMES", "fits_post", "link_facets", "post_bytes", "post_graphemes"]

MAX_GRAPHEMES = 300
MAX_BYTES = 3000

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def post_graphemes(text: str) -> int:
    return int(grapheme.length(text))


def post_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def fits_post(text: str) -> bool:
    """Within both of Bluesky's limits."""
    return post_bytes(text) <= MAX_BYTES and post_graphemes(text) <= MAX_GRAPHEMES


def link_facets(text: str) -> list[dict[str, Any]]:
    """One link facet per ``http(s)://`` link in ``text``, with UTF-8 byte offsets."""
    facets: list[dict[str, Any]] = []
    for match in _URL.finditer(text):
        uri = match.group(0).rstrip(_TRAILING)
        start = len(text[: match.start()].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(uri.encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    return facets
