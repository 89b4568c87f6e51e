"""A poll on a message: numbered answers in each language, and how replies are read.

Answer codes are the digits 1–9. Carriers treat STOP, HELP, START, CANCEL, END, QUIT,
UNSUBSCRIBE (and STOPALL, UNSTOP, YES, INFO) as opt-out or help keywords: a STOP removes the
person from every future alert. So no answer may be, or be read from, one of those words; a
reply that IS one is an opt-out (or help request), never an answer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CARRIER_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "Poll",
    "PollAnswer",
    "carrier_keyword",
    "poll_line",
    "read_answer",
]

OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
CARRIER_KEYWORDS = OPT_OUT_KEYWORDS | frozenset({"help", "info", "start", "unstop", "yes"})
_NUMBER_WORDS = {
    "1": ("one", "uno", "un", "une"),
    "2": ("two", "dos", "deux"),
    "3": ("three", "tres", "trois"),
    "4": ("four", "cuatro", "quatre"),
    "5": ("five", "cinco", "cinq"),
    "6": ("six", "seis"),
    "7": ("seven", "siete", "sept"),
    "8": ("eight", "ocho", "huit"),
    "9": ("nine", "nueve", "neuf"),
}
_REPLY = {"en": "Reply", "es": "Responda", "fr": "Répondez"}
_NOISE = re.compile(r"[\s.,;:!?¡¿()\[\]\"'#*-]+")


def _normal(text: str) -> str:
    """Case-folded, NFKC, without accents, punctuation or spaces (``" Salvo."`` → ``salvo``)."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)).casefold()
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOISE.sub("", bare)


class PollAnswer(BaseModel):
    """One answer: its digit, its label per language, and other words that mean it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[1-9]$")
    label: dict[str, str] = Field(min_length=1)  # language → "I am safe"
    words: tuple[str, ...] = ()  # "safe", "salvo" …

    @model_validator(mode="after")
    def _no_carrier_keyword(self) -> PollAnswer:
        for word in (*self.words, *self.label.values()):
            if _normal(word) in CARRIER_KEYWORDS:
                raise ValueError(
                    f"poll answer {self.code}: {word!r} is a carrier keyword (STOP, HELP, START …); "
                    "a reply with it opts the person out or asks for help, so choose another word"
                )
        return self


class Poll(BaseModel):
    """The question a message asks staff: numbered answers and how long answers are awaited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: tuple[PollAnswer, ...] = Field(min_length=1, max_length=9)
    deadline_min: int = Field(default=60, ge=1, le=24 * 60)

    @field_validator("answers")
    @classmethod
    def _distinct_codes(cls, answers: tuple[PollAnswer, ...]) -> tuple[PollAnswer, ...]:
        codes = [a.code for a in answers]
        if len(set(codes)) != len(codes):
            raise ValueError("poll answers need distinct codes")
        return answers

    def closes_at(self, sent: datetime) -> datetime:
        return sent + timedelta(minutes=self.deadline_min)

    def label(self, code: str, language: str) -> str:
        answer = next(a for a in self.answers if a.code == code)
        return answer.label.get(language) or answer.label.get(language.split("-", maxsplit=1)[0]) or next(
            iter(answer.label.values())
        )


def poll_line(poll: Poll, language: str) -> str:
    """How to answer, in ``language``: ``Reply 1 = I am safe, 2 = I need help``."""
    lang = language.split("-", maxsplit=1)[0]
    choices = ", ".join(f"{a.code} = {poll.label(a.code, language)}" for a in poll.answers)
    return f"{_REPLY.get(lang, _REPLY['en'])} {choices}"


def carrier_keyword(text: str) -> str | None:
    """The carrier keyword ``text`` is (``"stop"``, ``"help"`` …), or None."""
    word = _normal(text)
    return word if word in CARRIER_KEYWORDS else None


def read_answer(text: str, poll: Poll) -> str | None:
    """The answer code a reply means (``"1"``), or None when it is not an answer.

    Accepted: the digit (`` 1.``), the number as a word in English, Spanish or French
    (``one``, ``uno``), an answer's label or one of its words, in any case and accents.
    """
    word = _normal(text)
    if not word or word in CARRIER_KEYWORDS:
        return None
    for answer in poll.answers:
        if word == answer.code or word in _NUMBER_WORDS.get(answer.code, ()):
            return answer.code
        if word in {_normal(w) for w in (*answer.words, *answer.label.values())}:
            return answer.code
    return None
