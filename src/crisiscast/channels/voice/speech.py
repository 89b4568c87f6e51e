"""Words for the ear: a message's text turned into what a text-to-speech voice reads well.

Pure functions, no I/O. What changes, and why:

- **Links** are never read out letter by letter: ``https://www.example-hospital.org/drills?x=1``
  becomes "the website example-hospital dot org" (the path and query are dropped; the text
  message and the public page carry the full link).
- **Clock times** are said as people say them: ``14:30`` → "2:30 PM", ``10:00`` → "10 AM",
  ``12:00`` → "noon" (English); ``10:00`` → "10 en punto", ``14:30`` → "14 y 30" (Spanish).
- **Phone numbers** are read digit by digit in their groups: ``617-555-0100`` →
  "6 1 7, 5 5 5, 0 1 0 0" (a voice would otherwise say "six hundred seventeen").
- ``&`` and ``#`` become words; every line ends as a sentence, so the voice pauses.
- The exercise marker is said as words: "EXERCISE EXERCISE EXERCISE" → "Exercise, exercise,
  exercise."

``voice_for(language)`` picks the Twilio ``<Say>`` voice and language: a neural Amazon Polly
voice for the language's usual region (``en`` → en-US, ``es`` → es-US …), and US English for
a language with no voice here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SayVoice", "speak", "spoken_marker", "voice_for"]


@dataclass(frozen=True, slots=True)
class SayVoice:
    """A ``<Say>`` voice: Twilio's ``voice`` and ``language`` attributes."""

    language: str  # "en-US"
    voice: str  # "Polly.Joanna-Neural"


_VOICES: dict[str, SayVoice] = {
    "en": SayVoice("en-US", "Polly.Joanna-Neural"),
    "en-gb": SayVoice("en-GB", "Polly.Amy-Neural"),
    "es": SayVoice("es-US", "Polly.Lupe-Neural"),
    "es-es": SayVoice("es-ES", "Polly.Lucia-Neural"),
    "fr": SayVoice("fr-CA", "Polly.Gabrielle-Neural"),
    "fr-fr": SayVoice("fr-FR", "Polly.Lea-Neural"),
    "pt": SayVoice("pt-BR", "Polly.Camila-Neural"),
    "pt-pt": SayVoice("pt-PT", "Polly.Ines-Neural"),
    "de": SayVoice("de-DE", "Polly.Vicki-Neural"),
    "it": SayVoice("it-IT", "Polly.Bianca-Neural"),
    "zh": SayVoice("cmn-CN", "Polly.Zhiyu-Neural"),
    "ko": SayVoice("ko-KR", "Polly.Seoyeon-Neural"),
    "ja": SayVoice("ja-JP", "Polly.Takumi-Neural"),
    "ar": SayVoice("arb", "Polly.Hala-Neural"),
    "vi": SayVoice("vi-VN", "Google.vi-VN-Standard-A"),
    "ht": SayVoice("fr-FR", "Polly.Lea-Neural"),  # Haitian Creole has no voice: French is closest
}
_FALLBACK = _VOICES["en"]


def voice_for(language: str) -> SayVoice:
    """The voice for a contact language (``es``, ``pt-BR``…); US English when none fits."""
    tag = language.lower()
    return _VOICES.get(tag) or _VOICES.get(tag.split("-", 1)[0]) or _FALLBACK


# -- words per language -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Words:
    website: str
    dot: str
    and_: str
    number: str


_WORDS: dict[str, _Words] = {
    "en": _Words("the website", "dot", "and", "number"),
    "es": _Words("el sitio web", "punto", "y", "número"),
    "fr": _Words("le site", "point", "et", "numéro"),
    "pt": _Words("o site", "ponto", "e", "número"),
}

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_PHONE = re.compile(r"(?<![\w+])(\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-](\d{4})(?!\w)")
_SPACES = re.compile(r"[ \t]+")


def _words(language: str) -> _Words:
    return _WORDS.get(language.lower().split("-", 1)[0], _WORDS["en"])


def _base(language: str) -> str:
    return language.lower().split("-", 1)[0]


def _say_url(match: re.Match[str], words: _Words) -> str:
    raw = match.group(0).rstrip(".,;:!?)")
    tail = match.group(0)[len(raw) :]
    host = urlsplit(raw if "://" in raw else f"http://{raw}").hostname or ""
    host = host.removeprefix("www.")
    if not host:
        return tail
    return f"{words.website} {f' {words.dot} '.join(host.split('.'))}{tail}"


def _say_time(match: re.Match[str], language: str) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    base = _base(language)
    if base == "en":
        if minute == 0 and hour == 12:
            return "noon"
        if minute == 0 and hour == 0:
            return "midnight"
        suffix = "AM" if hour < 12 else "PM"
        h12 = hour % 12 or 12
        return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"
    if base == "es":
        return f"{hour} en punto" if minute == 0 else f"{hour} y {minute}"
    return match.group(0)


def _say_phone(match: re.Match[str]) -> str:
    groups = [g for g in match.groups() if g]
    spelt = [" ".join(ch for ch in g if ch.isdigit()) for g in groups]
    return ", ".join(s for s in spelt if s)


def speak(text: str, language: str) -> str:
    """``text`` as a voice should read it in ``language`` (see the module docstring)."""
    words = _words(language)
    out: list[str] = []
    for raw in text.splitlines():
        line = _URL.sub(lambda m: _say_url(m, words), raw)
        line = _PHONE.sub(_say_phone, line)
        line = _TIME.sub(lambda m: _say_time(m, language), line)
        line = line.replace("&", f" {words.and_} ").replace("#", f" {words.number} ")
        line = _SPACES.sub(" ", line).strip()
        if line:
            line = line[0].upper() + line[1:]
            out.append(line if line[-1] in ".!?…" else f"{line}.")
    return " ".join(out)


def spoken_marker(marker: str) -> str:
    """The Exercise/Test marker as words: "EXERCISE EXERCISE EXERCISE" → "Exercise, exercise, exercise."
    (empty for an Actual message)."""
    tokens = [t for t in re.split(r"[\s,.;:!]+", marker) if t]
    if not tokens:
        return ""
    said = ", ".join(t.lower() for t in tokens)
    return said[0].upper() + said[1:] + "."
