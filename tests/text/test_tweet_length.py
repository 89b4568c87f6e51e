"""X's weighted count, pinned by X's own twitter-text conformance vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from crisiscast.channels.twitter.text import tweet_length

DATA = Path(__file__).parent.parent / "data" / "twitter_text_weighted.yml"
GROUPS: dict[str, list[dict[str, Any]]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))["tests"]

# The v2 group checks the counting engine without emoji discounting; v3 is what X counts today.
CASES = [
    pytest.param(version, case, id=f"{group}:{case['description']}")
    for group, version in (
        ("WeightedTweetsCounterTest", 2),
        ("WeightedTweetsWithDiscountedEmojiCounterTest", 3),
        ("UnicodeDirectionalMarkerCounterTest", 3),
    )
    for case in GROUPS[group]
]


def test_every_weighted_group_is_present() -> None:
    """The data file holds the three weighted-count groups with all their vectors."""
    assert {k: len(v) for k, v in GROUPS.items()} == {
        "WeightedTweetsCounterTest": 20,
        "WeightedTweetsWithDiscountedEmojiCounterTest": 22,
        "UnicodeDirectionalMarkerCounterTest": 2,
    }


@pytest.mark.parametrize(("version", "case"), CASES)
def test_conformance_vector(version: int, case: dict[str, Any]) -> None:
    """tweet_length agrees with X's published weightedLength for every conformance vector."""
    assert tweet_length(case["text"], version=version) == case["expected"]["weightedLength"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("english text 日本語 😷 https://example.com", 46),
        ("a" * 280, 280),
        ("日" * 140, 280),
        ("👨‍👩‍👧‍👦", 2),
        ("👍🏽", 2),
        ("https://example.com/" + "x" * 300, 23),
        ("e\u0301", 1),  # NFC: e + combining acute is é
        ("", 0),
    ],
)
def test_worked_examples(text: str, expected: int) -> None:
    """URLs weigh 23, CJK 2, an emoji sequence 2, text is NFC-normalised before counting."""
    assert tweet_length(text) == expected


def test_unknown_configuration_version_is_refused() -> None:
    """Only configurations 2 and 3 exist in crisiscast; anything else is a ValueError."""
    with pytest.raises(ValueError, match="version 7"):
        tweet_length("x", version=7)
