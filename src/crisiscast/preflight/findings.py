"""What the quality gate found: typed, JSON-able results (no free-form dictionaries).

A ``Finding`` is one problem in one language: its ``check`` code, whether it ``blocks``
(an error: an Actual free-text message needs a recorded override to go out) or only advises
(a warning), the sentence it is about, and one plain sentence saying what to change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

__all__ = [
    "ELEMENTS",
    "Check",
    "ElementHit",
    "Finding",
    "LanguageReport",
    "Level",
    "QualityReport",
    "Readability",
]

Level = Literal["error", "warning"]
Check = Literal[
    "missing_element",
    "readability",
    "too_many_sentences",
    "too_many_instruction_sentences",
    "too_many_words",
    "shouting",
    "colour_code",
    "jargon",
    "insecure_link",
    "abbreviation",
    "missing_language",
    "copied_translation",
]
ELEMENTS: tuple[str, ...] = ("source", "hazard", "location", "protective_action", "time")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem the gate found in ``language`` (empty for the message as a whole)."""

    check: Check
    level: Level
    language: str
    detail: str
    sentence: str = ""


@dataclass(frozen=True, slots=True)
class ElementHit:
    """One of the five warning elements: the sentence that supplies it, or "" when missing."""

    element: str
    sentence: str = ""

    @property
    def present(self) -> bool:
        return bool(self.sentence)


@dataclass(frozen=True, slots=True)
class Readability:
    """Readability of one language's text. ``grade`` is None for a language without a formula."""

    formula: str
    grade: float | None
    reading_ease: float | None
    sentences: int
    instruction_sentences: int
    words: int


@dataclass(frozen=True, slots=True)
class LanguageReport:
    """The five elements and the readability of one language."""

    language: str
    elements: tuple[ElementHit, ...]
    readability: Readability


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The gate's verdict on a message: per-language reports and the findings."""

    languages: tuple[LanguageReport, ...]
    findings: tuple[Finding, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when nothing blocks (warnings alone pass)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    def summary(self) -> str:
        """One sentence: passed, or how many errors and warnings."""
        errors = len(self.errors)
        warnings = len(self.findings) - errors
        if not self.findings:
            return "Quality gate: passed, no findings."
        verdict = "passed" if errors == 0 else "FAILED"
        return f"Quality gate: {verdict} with {errors} error(s) and {warnings} warning(s)."

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--json`` and the API (``passed``, ``summary``, ``languages``, ``findings``)."""
        return {
            "passed": self.passed,
            "summary": self.summary(),
            "languages": [
                {
                    "language": lang.language,
                    "elements": {
                        e.element: {"present": e.present, "sentence": e.sentence} for e in lang.elements
                    },
                    "readability": asdict(lang.readability),
                }
                for lang in self.languages
            ],
            "findings": [asdict(f) for f in self.findings],
        }
