"""X renderings: one post when it fits, else a numbered thread; every post at most 280 weighted."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.adapt.labels import Label
from crisiscast.channels.twitter.adapt import adapt_x, thread_parts
from crisiscast.channels.twitter.text import tweet_length
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, MessageText, Status
from crisiscast.text.split import words
from tests.adapt.factory import WEB, crisis_messages, message, prose

POLICY = PolicyConfig()
EXERCISE = Label("EXERCISE EXERCISE EXERCISE")
NUMBERING = re.compile(r" (\d+)/(\d+)(?: · \d\d:\d\d UTC)?$")


def thread_words(parts: list[str] | tuple[str, ...], label: Label, web: str | None) -> list[str]:
    """The words a thread carries, numbering, marker and first-post link removed."""
    out: list[str] = []
    for index, part in enumerate(parts, start=1):
        body = label.strip(part)
        if len(parts) > 1:
            match = NUMBERING.search(body)
            assert match is not None and match.groups() == (str(index), str(len(parts)))
            body = body[: match.start()]
            if index == 1 and web:
                assert body.endswith("\n" + web)
                body = body[: -len(web) - 1]
        elif web:
            body = body.removesuffix(web)
        out.extend(words(body))
    return out


def original_words(text: MessageText) -> list[str]:
    return [w for field in (text.headline, text.instruction, text.description) for w in words(field)]


def test_short_message_is_one_post_with_headline_instruction_and_link() -> None:
    """A message that fits is one post: headline, instruction, description, link."""
    m = message(instruction="Use the east stairs.", web=WEB)
    [rendering] = adapt_x(m, POLICY, max_parts=4)
    assert rendering.parts == (f"Fire in Building B\n\nUse the east stairs.\n\n{WEB}",)
    assert rendering.language == "en"
    assert rendering.metrics == {"weighted_lengths": [tweet_length(rendering.parts[0])]}


def test_long_message_becomes_numbered_thread_with_link_in_first_post() -> None:
    """Over 280 weighted: a thread numbered 1/n…n/n, headline first, link in post 1 only."""
    m = message(
        instruction="Evacuate via the east stairs. Do not use the lifts. Staff lead patients out.",
        description=" ".join(f"Detail number {i} about the incident." for i in range(20)),
        web=WEB,
    )
    [rendering] = adapt_x(m, POLICY, max_parts=6)
    parts = rendering.parts
    assert len(parts) > 1
    assert parts[0].startswith("Fire in Building B")
    assert WEB in parts[0] and all(WEB not in p for p in parts[1:])
    assert [NUMBERING.search(p).groups() for p in parts] == [  # type: ignore[union-attr]
        (str(i), str(len(parts))) for i in range(1, len(parts) + 1)
    ]
    assert all(length <= 280 for length in rendering.metrics["weighted_lengths"])
    assert thread_words(parts, Label(), WEB) == original_words(m.text())


def test_thread_cuts_at_sentence_boundaries_when_it_can() -> None:
    """With room enough, every post ends at the end of a sentence."""
    sentence = "Staff on floor three move patients to the west wing now."
    m = message(description=" ".join([sentence] * 12))
    [rendering] = adapt_x(m, POLICY, max_parts=10)
    for part in rendering.parts[1:]:
        body = NUMBERING.sub("", part)
        assert body.endswith("now.")


def test_word_that_fits_is_never_cut_and_url_stays_whole() -> None:
    """Cutting falls between words: every original word (URLs included) appears whole in one post."""
    long_url = "https://www.example-hospital.org/" + "very-long-path-segment/" * 12
    m = message(description=("Read the plan at " + long_url + " before you move. ") * 6 + "x" * 120)
    [rendering] = adapt_x(m, POLICY, max_parts=8)
    posts_words = [set(words(p)) for p in rendering.parts]
    for word in original_words(m.text()):
        assert any(word in ws for ws in posts_words), word


def test_link_too_long_for_a_post_is_refused_not_cut() -> None:
    """A link X would not shorten (unknown domain) and longer than a post is refused, never cut."""
    m = message(description="See https://hospital.invalid/" + "p/" * 200 + " now.")
    with pytest.raises(PolicyError, match="too long for an X post"):
        adapt_x(m, POLICY, max_parts=4)


def test_word_longer_than_a_post_is_cut_between_grapheme_clusters() -> None:
    """A 'word' that cannot fit one post is cut, never inside a grapheme cluster."""
    family = "👨‍👩‍👧‍👦"
    m = message(description=family * 200)
    [rendering] = adapt_x(m, POLICY, max_parts=4)
    body = "".join(NUMBERING.sub("", p) for p in rendering.parts)
    assert body.count(family) == 200
    assert all(tweet_length(p) <= 280 for p in rendering.parts)


def test_cjk_counts_double_and_is_split_without_spaces() -> None:
    """Chinese weighs 2 per character; a long Chinese text becomes a thread within 280 each."""
    m = message(headline="火警", description="请立即从东侧楼梯疏散。" * 30)
    [rendering] = adapt_x(m, POLICY, max_parts=6)
    assert len(rendering.parts) > 1
    assert all(w <= 280 for w in rendering.metrics["weighted_lengths"])
    assert "".join(NUMBERING.sub("", p) for p in rendering.parts).count("疏散") == 30


def test_too_many_parts_is_refused_with_the_number_needed() -> None:
    """Over max_parts: PolicyError saying how many posts it would need and what to do."""
    m = message(description="Long detail sentence about the situation. " * 60)
    with pytest.raises(PolicyError) as err:
        adapt_x(m, POLICY, max_parts=2)
    needed = int(re.search(r"needs (\d+) posts", str(err.value)).group(1))  # type: ignore[union-attr]
    assert needed > 2
    assert "at most 2" in str(err.value)
    assert len(adapt_x(m, POLICY, max_parts=needed)[0].parts) <= needed  # raising it to that is enough


def test_marker_and_numbering_count_towards_280() -> None:
    """An Exercise thread repeats the marker on every post and still keeps each post ≤ 280."""
    m = message(status=Status.EXERCISE, description="Drill detail for everyone. " * 30)
    [rendering] = adapt_x(m, POLICY, max_parts=6)
    assert all(p.startswith("EXERCISE EXERCISE EXERCISE ") for p in rendering.parts)
    assert all(tweet_length(p) <= 280 for p in rendering.parts)


def test_numbering_width_grows_past_nine_parts() -> None:
    """With ten or more posts the two-digit numbering still fits every post."""
    m = message(description="Another sentence with a few words in it. " * 80)
    [rendering] = adapt_x(m, POLICY, max_parts=25)
    assert len(rendering.parts) >= 10
    last = NUMBERING.search(rendering.parts[-1])
    assert last is not None and last.groups() == (str(len(rendering.parts)), str(len(rendering.parts)))
    assert all(tweet_length(p) <= 280 for p in rendering.parts)


def test_marker_too_long_for_any_post_is_refused_plainly() -> None:
    """A marker that leaves no room for text is a PolicyError naming the marker."""
    policy = PolicyConfig(exercise_marker="DRILL " * 50)
    m = message(status=Status.EXERCISE, description="Some text. " * 40, web=WEB)
    with pytest.raises(PolicyError, match="shorten the marker"):
        adapt_x(m, policy, max_parts=4)


def test_headline_longer_than_a_post_still_fits_with_the_link() -> None:
    """A 160-character CJK headline (320 weighted) is spread over posts; post 1 keeps the link."""
    m = message(headline="医" * 160, web=WEB)
    [rendering] = adapt_x(m, POLICY, max_parts=4)
    assert WEB in rendering.parts[0]
    assert all(tweet_length(p) <= 280 for p in rendering.parts)


@settings(max_examples=150, deadline=None)
@given(crisis_messages(), st.integers(min_value=1, max_value=25))
def test_every_rendered_post_is_at_most_280_weighted(m: CrisisMessage, max_parts: int) -> None:
    """Property: whatever the message, every X post produced weighs ≤ 280 and has ≤ max_parts posts."""
    try:
        renderings = adapt_x(m, POLICY, max_parts=max_parts)
    except PolicyError as exc:
        assert "posts but at most" in str(exc)
        return
    for rendering in renderings:
        assert 1 <= len(rendering.parts) <= max_parts
        assert all(tweet_length(p) <= 280 for p in rendering.parts)


@settings(max_examples=150, deadline=None)
@given(prose(max_sentences=30), st.booleans(), st.sampled_from([None, WEB]))
def test_thread_rejoins_to_the_original_words_in_order(
    description: str, exercise: bool, web: str | None
) -> None:
    """Property: marker, numbering and link removed, a thread's words are the message's words in order."""
    label = EXERCISE if exercise else Label()
    text = MessageText(
        headline="Evacuate Building B", instruction="Use stairs.", description=description, web=web
    )
    parts = thread_parts(text, label, max_parts=25)
    assert thread_words([label.apply(p) for p in parts], label, web) == original_words(text)


def test_every_post_of_a_thread_differs_from_another_alerts_thread() -> None:
    """Two alerts from the same template (another building, the same instruction) share no post:
    each numbered post carries the alert's time, so X does not refuse one as a duplicate."""
    from datetime import timedelta

    instruction = "Staff on the floor move patients away from the fire doors. " * 6
    first = message(headline="Fire in Building B, level 3", instruction=instruction)
    second = message(
        headline="Fire in Building C, level 1",
        instruction=instruction,
        sent=first.sent + timedelta(minutes=7),
    )
    [a] = adapt_x(first, POLICY, max_parts=6)
    [b] = adapt_x(second, POLICY, max_parts=6)
    assert len(a.parts) > 1 and len(b.parts) > 1
    assert set(a.parts).isdisjoint(b.parts)
