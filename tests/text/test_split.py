"""Splitting helpers: sentences, words and grapheme clusters never lose or reorder text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.text.split import graphemes, sentence_spans, sentences, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Evacuate now. Use the stairs!  Do not use lifts... Clear?", ["Evacuate now.", "Use the stairs!",
                                                                     "Do not use lifts...", "Clear?"]),
        ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
        ("请立即疏散。不要使用电梯！谢谢", ["请立即疏散。", "不要使用电梯！", "谢谢"]),
        ("No punctuation at all", ["No punctuation at all"]),
        ("Version 2.5 is out. Ok", ["Version 2.5 is out.", "Ok"]),
        ("", []),
    ],
)  # fmt: skip
def test_sentences(text: str, expected: list[str]) -> None:
    """Sentences end at . ! ? … followed by a space, and at CJK full stops even without one."""
    assert sentences(text) == expected


def test_graphemes_keep_emoji_sequences_and_accents_whole() -> None:
    """A family emoji, a flag, a skin-toned thumb and e + combining accent are one cluster each."""
    assert graphemes("👨‍👩‍👧‍👦🇪🇸👍🏽e\u0301") == ["👨‍👩‍👧‍👦", "🇪🇸", "👍🏽", "e\u0301"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"ab .!?\n。", "火", "é"]), max_size=80))
def test_sentence_spans_rebuild_the_text(text: str) -> None:
    """Property: sentences joined with their separators give the text back, whitespace normalised."""
    rebuilt = "".join(gap + sentence for gap, sentence in sentence_spans(text))
    assert words(rebuilt) == words(text)
    assert [s for _, s in sentence_spans(text)] == sentences(text)
