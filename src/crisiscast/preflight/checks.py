"""The gate's checks on one language's words: each a pure function returning findings.

Elements: the five parts of an effective warning (source, hazard, location, protective
action, time), each with the first sentence that supplies it. Style: shouting in capitals,
a colour code without its plain words, jargon, a link that is not HTTPS, an abbreviation
nobody explains. Size: readability grade, sentences and words against the targets.
"""

from __future__ import annotations

import re

from crisiscast.preflight.findings import ELEMENTS, ElementHit, Finding, Readability
from crisiscast.preflight.lexicon import COLOUR_CODES, colour_code_pattern, element_pattern
from crisiscast.preflight.settings import PreflightConfig
from crisiscast.preflight.text import Sentence, Words

__all__ = ["element_findings", "find_elements", "size_findings", "style_findings"]

_LINK = re.compile(r"(?<!\w)(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>()]+", re.IGNORECASE)
_ABBREVIATION = re.compile(r"(?<![\w-])(?=(?:[A-Z0-9]*[A-Z]){2})[A-Z][A-Z0-9]{1,5}s?(?!\w)")
_CAPS_WORD = re.compile(r"^[^\w]*([A-ZÁÉÍÓÚÑÜ]{2,})[^\w]*$")
_ELEMENT_NAMES = {
    "source": "who sends it (the hospital)",
    "hazard": "what is happening (the hazard)",
    "location": "where (the location)",
    "protective_action": "what to do (the protective action)",
    "time": "when (now, since or until when)",
}


def _matches(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and pattern.search(text) is not None


def _source_pattern(language: str, config: PreflightConfig) -> re.Pattern[str] | None:
    words = config.source_words.get(language.split("-", maxsplit=1)[0], ())
    if not words:
        return None
    joined = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in words)
    return re.compile(rf"(?<!\w)(?:{joined})(?!\w)", re.IGNORECASE)


def find_elements(words: Words, config: PreflightConfig) -> tuple[ElementHit, ...]:
    """The five elements in order, each with the first sentence that supplies it ("" if none)."""
    sentences = words.sentences()
    hits = []
    for element in ELEMENTS:
        if element == "source":
            pattern = _source_pattern(words.language, config)
        else:
            pattern = element_pattern(element, words.language)
        found = next((s.text for s in sentences if _matches(pattern, s.text)), "")
        hits.append(ElementHit(element, found))
    return tuple(hits)


def element_findings(language: str, hits: tuple[ElementHit, ...]) -> list[Finding]:
    """An error for each missing element."""
    return [
        Finding(
            "missing_element",
            "error",
            language,
            f"No sentence says {_ELEMENT_NAMES[hit.element]}; add one.",
        )
        for hit in hits
        if not hit.present
    ]


def size_findings(language: str, measured: Readability, config: PreflightConfig) -> list[Finding]:
    """Warnings for a grade, sentence count or word count over its target."""
    out: list[Finding] = []
    if measured.grade is not None and measured.grade > config.max_grade:
        out.append(
            Finding(
                "readability",
                "warning",
                language,
                f"Reading grade {measured.grade:g} ({measured.formula}) is above the target "
                f"{config.max_grade:g}; use shorter words and sentences.",
            )
        )
    if measured.sentences > config.max_sentences:
        out.append(
            Finding(
                "too_many_sentences",
                "warning",
                language,
                f"{measured.sentences} sentences; keep it to {config.max_sentences}.",
            )
        )
    if measured.instruction_sentences > config.max_instruction_sentences:
        out.append(
            Finding(
                "too_many_instruction_sentences",
                "warning",
                language,
                f"{measured.instruction_sentences} sentences of instruction; keep it to "
                f"{config.max_instruction_sentences}.",
            )
        )
    if measured.words > config.max_words:
        out.append(
            Finding(
                "too_many_words",
                "warning",
                language,
                f"{measured.words} words; keep it to {config.max_words}.",
            )
        )
    return out


def style_findings(words: Words, config: PreflightConfig) -> list[Finding]:
    """Shouting, colour codes, jargon, insecure links and unexplained abbreviations."""
    language = words.language
    sentences = words.sentences()
    whole = " ".join(s.text for s in sentences)
    out: list[Finding] = []
    shouting = [s for s in sentences if _shouts(s, config)]
    out.extend(
        Finding("shouting", "error", language, "Written in capitals; use normal sentence case.", s.text)
        for s in shouting
    )
    out.extend(_colour_codes(language, sentences, whole))
    out.extend(_jargon(language, sentences, config))
    out.extend(_links(language, sentences, words.web))
    out.extend(_abbreviations(language, [s for s in sentences if s not in shouting], whole, config))
    return out


def _shouts(sentence: Sentence, config: PreflightConfig) -> bool:
    run = 0
    for token in sentence.text.split():
        if not any(c.isalpha() for c in token):
            continue  # "CODE RED 3 WEST": a number neither starts nor breaks a run
        match = _CAPS_WORD.match(token)
        run = run + 1 if match and match.group(1) not in config.known_abbreviations else 0
        if run >= config.min_caps_run_words:
            return True
    letters = [c for c in sentence.text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _colour_codes(language: str, sentences: tuple[Sentence, ...], whole: str) -> list[Finding]:
    pattern = colour_code_pattern(language)
    if pattern is None:
        return []
    plain_words = COLOUR_CODES[language.split("-", maxsplit=1)[0]]
    out = []
    for s in sentences:
        for match in pattern.finditer(s.text):
            plain = plain_words[match.group(1).lower()]
            if not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", whole, re.IGNORECASE) for w in plain):
                out.append(
                    Finding(
                        "colour_code",
                        "error",
                        language,
                        f"{match.group(0)!r} is a colour code; say what it means in plain words "
                        f"(for example {plain[0]!r}).",
                        s.text,
                    )
                )
    return out


def _jargon(language: str, sentences: tuple[Sentence, ...], config: PreflightConfig) -> list[Finding]:
    terms = config.jargon.get(language.split("-", maxsplit=1)[0], ())
    out = []
    for term in terms:
        body = r"\s+".join(re.escape(part) for part in term.split())
        pattern = re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
        hit = next((s for s in sentences if pattern.search(s.text)), None)
        if hit is not None:
            out.append(
                Finding("jargon", "warning", language, f"{term!r} is jargon; use everyday words.", hit.text)
            )
    return out


def _links(language: str, sentences: tuple[Sentence, ...], web: str | None) -> list[Finding]:
    found = [(m.group(0).rstrip(".,;:!?"), s.text) for s in sentences for m in _LINK.finditer(s.text)]
    if web:
        found.append((web, web))
    out = []
    for link, where in found:
        if not link.lower().startswith("https://"):
            out.append(
                Finding(
                    "insecure_link",
                    "error",
                    language,
                    f"The link {link[:80]!r} is not HTTPS; link to an https:// address.",
                    where,
                )
            )
    return out


def _abbreviations(
    language: str, sentences: list[Sentence], whole: str, config: PreflightConfig
) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for s in sentences:
        for match in _ABBREVIATION.finditer(_LINK.sub(" ", s.text)):
            abbr = match.group(0)
            bare = abbr[:-1] if abbr.endswith("s") else abbr
            if bare in seen or bare in config.known_abbreviations or _explained(bare, whole):
                continue
            seen.add(bare)
            out.append(
                Finding(
                    "abbreviation",
                    "warning",
                    language,
                    f"{bare!r} is not explained; write it out, or add the words in brackets the first time.",
                    s.text,
                )
            )
    return out


def _explained(abbr: str, text: str) -> bool:
    """True for "words (ABBR)" or "ABBR (words)" somewhere in the text."""
    escaped = re.escape(abbr)
    return bool(
        re.search(rf"\w[\w\s,'-]{{3,}}\(\s*{escaped}s?\s*\)", text)
        or re.search(rf"(?<!\w){escaped}s?\s*\([^)]{{4,}}\)", text)
    )
