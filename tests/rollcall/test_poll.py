"""Polls: the answers people type are read, carrier keywords are never answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crisiscast.rollcall.poll import Poll, carrier_keyword, poll_line, read_answer

POLL = Poll.model_validate(
    {
        "answers": [
            {"code": "1", "label": {"en": "I am safe", "es": "Estoy a salvo"}, "words": ["safe", "salvo"]},
            {"code": "2", "label": {"en": "I need help", "es": "Necesito ayuda"}, "words": ["ayuda"]},
            {"code": "3", "label": {"en": "I can come in", "es": "Puedo venir"}},
        ]
    }
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1", "1"), (" 1.", "1"), ("one", "1"), ("Uno", "1"), ("safe", "1"), ("SAFE", "1"), ("Salvo!", "1"),
        ("estoy a salvo", "1"), ("2", "2"), ("dos", "2"), ("Ayuda", "2"), ("I need help", "2"),
        ("3", "3"), ("tres", "3"), ("puedo venir", "3"),
    ],
)  # fmt: skip
def test_the_forms_people_type_are_read(text: str, code: str) -> None:
    """Digits, number words in English and Spanish, labels and words, in any case and accents."""
    assert read_answer(text, POLL) == code


@pytest.mark.parametrize("text", ["STOP", "stop ", "Unsubscribe", "HELP", "start", "4", "maybe", "", "12"])
def test_carrier_keywords_and_other_text_are_not_answers(text: str) -> None:
    """STOP and its kin, help, unknown numbers and free text are never read as an answer."""
    assert read_answer(text, POLL) is None


def test_carrier_keywords_are_recognised() -> None:
    assert carrier_keyword(" Stop. ") == "stop"
    assert carrier_keyword("help") == "help"
    assert carrier_keyword("safe") is None


@pytest.mark.parametrize("word", ["STOP", "Cancel", "quit", "help", "START", "end"])
def test_a_poll_cannot_use_a_carrier_keyword(word: str) -> None:
    """An answer word that carriers treat as opt-out or help is refused with the reason."""
    with pytest.raises(ValidationError, match="carrier keyword"):
        Poll.model_validate({"answers": [{"code": "1", "label": {"en": "Safe"}, "words": [word]}]})


def test_the_line_says_how_to_answer_in_the_language() -> None:
    assert poll_line(POLL, "en") == "Reply 1 = I am safe, 2 = I need help, 3 = I can come in"
    assert poll_line(POLL, "es-US") == "Responda 1 = Estoy a salvo, 2 = Necesito ayuda, 3 = Puedo venir"
