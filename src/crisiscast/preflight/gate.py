"""The quality gate: a message (or a template) and the configuration in, a ``QualityReport`` out.

Pure functions: nothing is read or written. ``check_message`` checks every language of a
message, that every language its audiences need is there, and that no translation is only a
copy of the main text. ``needs_override`` says whether sending it takes a recorded reason
(an Actual free-text message with an error); a template is checked when it loads instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from crisiscast.message import CrisisMessage, Status
from crisiscast.preflight.checks import element_findings, find_elements, size_findings, style_findings
from crisiscast.preflight.findings import Finding, LanguageReport, QualityReport
from crisiscast.preflight.readability import measure
from crisiscast.preflight.settings import PreflightConfig
from crisiscast.preflight.text import Words

__all__ = ["check_message", "check_words", "message_words", "needs_override"]


def message_words(message: CrisisMessage) -> list[Words]:
    """The message's words per language, the main language first."""
    out = []
    for language in message.languages:
        t = message.text(language)
        out.append(Words(language, t.headline, t.description, t.instruction, t.web))
    return out


def check_message(
    message: CrisisMessage, config: PreflightConfig, also_languages: Iterable[str] = ()
) -> QualityReport:
    """Check ``message``; ``also_languages`` adds languages the recipients speak (contacts file)."""
    needed = list(config.languages_for(message.audiences))
    needed.extend(lang for lang in also_languages if lang not in needed)
    return check_words(message_words(message), config, needed)


def check_words(
    words: Sequence[Words], config: PreflightConfig, needed: Sequence[str] = (), *, grade: bool = True
) -> QualityReport:
    """Check the words of each language (``words[0]`` is the main language); ``grade`` False
    leaves out the reading grade (a warning at most) to spare loading its dictionaries."""
    reports: list[LanguageReport] = []
    findings: list[Finding] = []
    for w in words:
        hits = find_elements(w, config)
        measured = measure(w, grade_it=grade)
        reports.append(LanguageReport(w.language, hits, measured))
        findings.extend(element_findings(w.language, hits))
        findings.extend(style_findings(w, config))
        findings.extend(size_findings(w.language, measured, config))
    have = {w.language for w in words} | {w.language.split("-")[0] for w in words}
    findings.extend(
        Finding(
            "missing_language",
            "error",
            language,
            f"The audience includes {language!r} speakers but the message has no {language!r} text; "
            "add a translation.",
        )
        for language in needed
        if language not in have
    )
    if words:
        findings.extend(_copies(words[0], words[1:], config))
    return QualityReport(tuple(reports), tuple(findings))


def _copies(main: Words, translations: Sequence[Words], config: PreflightConfig) -> list[Finding]:
    base = " ".join(main.prose().lower().split())
    out = []
    for t in translations:
        ratio = difflib.SequenceMatcher(None, base, " ".join(t.prose().lower().split())).ratio()
        if ratio >= config.copy_similarity:
            out.append(
                Finding(
                    "copied_translation",
                    "error",
                    t.language,
                    f"The {t.language!r} text is {ratio:.0%} the same as the {main.language!r} text; "
                    "translate it.",
                    t.headline,
                )
            )
    return out


def needs_override(message: CrisisMessage, report: QualityReport) -> bool:
    """True when sending takes a recorded reason: an Actual free-text message that fails the gate."""
    return message.status is Status.ACTUAL and message.template is None and not report.passed
