"""Readability per language with ``textstat``: English and Spanish formulas.

English: Flesch-Kincaid grade (a US school grade) and Flesch reading ease. Spanish: Crawford
(years of schooling, comparable to a grade) and Fernández Huerta reading ease. Other
languages: sentence and word counts only (``grade`` None), which the preview says plainly.

Syllables are counted with pyphen's hyphenation dictionaries in both languages (textstat's own
method for words outside the CMU dictionary). Loading the CMU dictionary costs 1–3 s per
command, too slow for a preview in a crisis; hyphenation counts a little low on some English
words, so English grades read about one grade lower than with the CMU dictionary.
"""

from __future__ import annotations

from textstat.backend import metrics

from crisiscast.preflight.findings import Readability
from crisiscast.preflight.text import Words

__all__ = ["measure"]

_EN = "en-US"


def measure(words: Words, *, grade_it: bool = True) -> Readability:
    """Readability of ``words`` (``grade`` None when the language has no formula here, or when
    ``grade_it`` is False: counts only, without loading the hyphenation dictionaries)."""
    sentences = words.sentences()
    prose = words.prose()
    count = len(prose.split())
    instruction = sum(1 for s in sentences if s.field == "instruction")
    root = words.language.split("-")[0]
    grade: float | None = None
    ease: float | None = None
    formula = "none"
    if not grade_it:
        formula = "skipped"
    elif prose and root == "en":
        # textstat's backend functions take the language as an argument (no global set_lang).
        # "en-US" (not "en_US") makes textstat count syllables with pyphen, as it does for Spanish,
        # instead of loading the CMU dictionary, which takes seconds on every command.
        grade, ease = metrics.flesch_kincaid_grade(prose, _EN), metrics.flesch_reading_ease(prose, _EN)
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
