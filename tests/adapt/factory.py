"""Message builders and hypothesis strategies shared by the adaptation tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from crisiscast.message import CrisisMessage, MessageText, Status

WEB = "https://www.example-hospital.org/alerts/42"


def message(**fields: Any) -> CrisisMessage:
    """An Actual message with a headline, overridden by ``fields``."""
    base: dict[str, Any] = {"status": Status.ACTUAL, "headline": "Fire in Building B"}
    base.update(fields)
    return CrisisMessage(**base)


# Words from several scripts, emoji sequences included; never blank.
_WORD_PIECES = st.sampled_from(
    [
        "evacuate", "now", "Building", "B", "stairs", "east", "Evacúe", "niño", "escaleras", "€5", "{room}",
        "火警", "疏散", "请立即", "حريق", "المبنى", "👍🏽", "👨‍👩‍👧‍👦", "🐈‍⬛", "🚨",
        "ok", "level-2", "x" * 40,
        "https://www.example-hospital.org/a", "example.org/map",
    ]
)  # fmt: skip
WORDS = st.lists(_WORD_PIECES, min_size=1, max_size=12)
_PUNCT = st.sampled_from(["", ".", "!", "?", ","])


@st.composite
def prose(draw: st.DrawFn, max_sentences: int = 8) -> str:
    """A few sentences of mixed-script words."""
    sentences = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_sentences))):
        sentences.append(" ".join(draw(WORDS)) + draw(_PUNCT))
    return " ".join(sentences)


@st.composite
def crisis_messages(draw: st.DrawFn, statuses: tuple[Status, ...] = tuple(Status)) -> CrisisMessage:
    """Messages of any status, length and language mix (PHI-free)."""
    headline = draw(prose(max_sentences=2))[:160].strip() or "Alert"
    translations: dict[str, MessageText] = {}
    if draw(st.booleans()):
        translations["es"] = MessageText(
            headline=draw(prose(max_sentences=2))[:160].strip() or "Alerta",
            instruction=draw(prose(max_sentences=3))[:2000],
        )
    return CrisisMessage(
        status=draw(st.sampled_from(statuses)),
        headline=headline,
        instruction=draw(st.one_of(st.just(""), prose(max_sentences=4)))[:2000],
        description=draw(st.one_of(st.just(""), prose(max_sentences=6)))[:4000],
        web=draw(st.sampled_from([None, WEB, WEB + "?utm_source=sms&utm_medium=alert&id=7"])),
        translations=translations,
    )
