"""Readability per language with ``textstat``: English and Spanish formulas.

English: Flesch-Kincaid grade (a US school grade) and Flesch reading ease. Spanish: Crawford
(years of schooling, comparable to a grade) and Fernández Huerta reading ease. Other
languages: sentence and word counts only (``grade`` None), which the preview says plainly.
"""

from __future__ import annotations

from textstat.backend import metrics

from crisiscast.preflight.findings import Readability
from crisiscast.preflight.text import Words

__all__ = ["measure"]


def measure(words: Words) -> Readability:
    """Readability of ``words`` (``grade`` None when the language has no formula here)."""
    sentences = words.sentences()
    prose = words.prose()
    count = len(prose.split())
    instruction = sum(1 for s in sentences if s.field == "instruction")
    root = words.language.split("-")[0]
    grade: float | None = None
    ease: float | None = None
    formula = "none"
    if prose and root == "en":
        # textstat's backend functions take the language as an argument (no global set_lang).
        grade, ease = (
            metrics.flesch_kincaid_grade(prose, "en_US"),
            metrics.flesch_reading_ease(prose, "en_US"),
        )
        formula = "flesch_kincaid"
    elif prose and root == "es":
        grade, ease = metrics.crawford(prose, "es"), metrics.fernandez_huerta(prose, "es")
        formula = "crawford"
    return Readability(
        formula=formula,
        grade=None if grade is None else round(float(grade), 1),
        reading_ease=None if ease is None else round(float(ease), 1),
        sentences=len(sentences),
        instruction_sentences=instruction,
        words=count,
    )
