"""Preflight: check a message before it is sent — its words (the quality gate) and its timing.

``check_message`` returns a ``QualityReport`` (the five warning elements per language with the
sentence that supplies each, readability, style and language findings); ``forecast`` estimates
when the first and the last recipient of each channel will have the message. Both are pure
functions of the message, the configuration and plain numbers.
"""

from crisiscast.preflight.findings import ElementHit, Finding, LanguageReport, QualityReport, Readability
from crisiscast.preflight.gate import check_message, check_words, message_words, needs_override
from crisiscast.preflight.settings import PreflightConfig
from crisiscast.preflight.text import Words

__all__ = [
    "ElementHit",
    "Finding",
    "LanguageReport",
    "PreflightConfig",
    "QualityReport",
    "Readability",
    "Words",
    "check_message",
    "check_words",
    "message_words",
    "needs_override",
]
