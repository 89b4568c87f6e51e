"""X's weighted post length (twitter-text configuration v3).

The count follows X's published rules: the text is NFC-normalised; code points in the
"light" ranges (Latin, Greek, Cyrillic, Hebrew, Arabic … up to U+10FF, and some
punctuation) weigh 1, everything else 2; a whole emoji sequence weighs 2; every URL weighs
23 (t.co wrapping). The counting engine is the ``twitter-text-parser`` package, pinned by
X's own conformance vectors in ``tests/data``.

The package compiles large patterns when it is imported (≈ 0.15–0.2 s) and reads its emoji
list through ``pkg_resources`` (whose import costs ≈ 0.15 s more); so it is imported on the
first measurement, not with this module, and its one ``pkg_resources.resource_string`` call is answered by
``importlib.resources`` (the same bytes) instead of importing ``pkg_resources``.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from importlib import resources
from typing import Any

__all__ = ["TWEET_MAX_WEIGHTED", "tweet_length", "tweet_urls"]

TWEET_MAX_WEIGHTED = 280
"""The most a post may weigh (``maxWeightedTweetLength`` of configuration v3)."""


def _resource_string(module_name: str, name: str) -> bytes:
    """``pkg_resources.resource_string``: ``name`` beside the module (or in the package) named."""
    module = sys.modules[module_name]
    package = module_name if hasattr(module, "__path__") else module_name.rpartition(".")[0]
    return resources.files(package).joinpath(name).read_bytes()


@functools.cache
def _engine() -> tuple[Callable[..., Any], Callable[..., Any], dict[int, dict[str, Any]]]:
    """``(parse_tweet, extract_urls_with_indices, configs)``, imported once, on first use."""
    shim = None
    if "pkg_resources" not in sys.modules:
        shim = types.ModuleType("pkg_resources")
        shim.resource_string = _resource_string  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    try:
        from twitter_text import extract_urls_with_indices, parse_tweet
        from twitter_text.config import config
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]  # a later `import pkg_resources` gets the real one
    configs = {2: {**config["version2"], "emoji_parsing_enabled": False}, 3: config["version3"]}
    return parse_tweet, extract_urls_with_indices, configs


def tweet_length(text: str, *, version: int = 3) -> int:
    """The weighted length X gives ``text`` (default configuration v3, as X counts today).

    ``version=2`` selects the older configuration without emoji discounting; it exists so that
    the conformance group written for it can be checked. Raises ``ValueError`` for any other
    version.
    """
    if version not in (2, 3):
        raise ValueError(f"twitter-text configuration version {version} is not supported")
    return _weighted_length(text, version)


@functools.lru_cache(maxsize=4096)
def _weighted_length(text: str, version: int) -> int:
    """X's count of ``text``, remembered (a pure function): the preview and the plan of one alert,
    and every alert from the same template, measure the same posts again."""
    parse_tweet, _, configs = _engine()
    return int(parse_tweet(text, configs[version]).weightedLength)


def tweet_urls(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` code-point spans X recognises as URLs in ``text`` (each weighs 23)."""
    _, extract_urls_with_indices, _ = _engine()
    return [(int(u["indices"][0]), int(u["indices"][1])) for u in extract_urls_with_indices(text)]
