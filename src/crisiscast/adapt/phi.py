"""PHI guard: public channels refuse text that looks like patient information.

X, Facebook, the website banner and signage (MQTT) are public. A message for them is refused
(``PolicyError``) when any of its texts, in any language, contains:

* a medical record number: ``MRN``, ``MR#``, ``MR No.``, ``Med Rec #``, ``medical record
  number``, ``chart #``, ``patient ID`` or ``FIN`` followed by 6 or more digits (maybe grouped);
* a date of birth: ``DOB``/``D.O.B.``/``date of birth``/``born`` (``nacido``/``nacida``/
  ``fecha de nacimiento``) followed by a date (``03/14/1956``, ``1956-03-14``, ``14-Mar-1956``,
  ``Mar 14 1956`` …) or a year;
* a capitalised name directly followed by a past date, e.g. ``John Smith (03/14/1956)`` or
  ``Maria Lopez, 1956-03-14``, or a ``LAST, FIRST`` name before one (``SMITH, JOHN 03/14/1956``);
* a US social security number (``123-45-6789``, ``123 45 6789``, ``123.45.6789``, or nine
  digits after ``SSN``/``SS#``);
* anything matching one of ``policy.phi_patterns`` (Python regular expressions).

Before matching, the text is normalised (``normalise_for_matching``): NFKC (full-width digits
become 0-9), format characters removed (zero-width spaces, soft hyphens), dashes folded to
``-`` and every kind of space to one space, so look-alike characters cannot hide a number.
``tests/adapt/test_phi_corpus.py`` measures the guard on a corpus of PHI-like and harmless
strings (all PHI-like caught; about 3 % of the harmless ones flagged).

The link is checked too (``?mrn=1234567``). The refusal names the kind of pattern and where it
was found, never the matched text itself.
An operator may override with a recorded reason (``allow_phi=True``; the dispatcher records it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from crisiscast.config import PolicyConfig
from crisiscast.errors import ConfigError, PolicyError
from crisiscast.message import CrisisMessage

__all__ = ["check_phi", "find_phi", "normalise_for_matching"]

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|"
    r"julio|agosto|septiembre|octubre|noviembre|diciembre)"
)
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:(?:19|20)?\d{2})"  # 03/14/1956, 14.03.56
    r"|(?:19|20)\d{2}[/.\-]\d{1,2}[/.\-]\d{1,2}"  # 1956-03-14, 1956/03/14
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s\-/.]+(?:de\s+)?{_MONTHS}\.?,?[\s\-/.]+(?:de\s+)?(?:(?:19|20)\d{{2}}|\d{{2}}\b)"
    # 14 March 1956, 14-Mar-1956, 14 Mar 56
    # March 14, 1956, Mar-14-1956
    rf"|{_MONTHS}\.?[\s\-/.]+\d{{1,2}}(?:st|nd|rd|th)?,?[\s\-/.]+(?:19|20)\d{{2}})"
)
_FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")

_DIGITS_6 = r"\d(?:[ \-]?\d){5,}"  # six or more digits, maybe grouped: 1234567, 123-4567

_BUILT_IN: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a medical record number",
        re.compile(
            r"(?<![A-Za-z])(?:MRN|MR\s*#|MR\s*(?:no\.?|num(?:ber)?\.?)|med(?:ical)?\.?\s*rec(?:ord)?\.?"
            r"(?:\s*(?:number|no\.?|num\.?|#))?|chart\s*(?:#|no\.?|number)|patient\s*(?:id|#|no\.?|number)"
            r"|FIN\s*#?|n[uú]mero\s+de\s+historia(?:\s+cl[ií]nica)?)"
            rf"\s*[:#=]?\s*(?:no\.?\s*|number\s*)?[:#=]?\s*{_DIGITS_6}",
            re.IGNORECASE,
        ),
    ),
    (
        "a date of birth",
        re.compile(
            r"\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on|\s+in)?|"
            r"fecha\s+de\s+nacimiento|nacid[oa](?:\s+el|\s+en)?|f\.\s*nac\.?)"
            rf"\s*[:\-]?\s*(?:{_DATE}|(?:19|20)\d{{2}}\b)",
            re.IGNORECASE,
        ),
    ),
    (
        "a social security number",
        re.compile(
            r"(?<!\d)\d{3}([\- .])\d{2}\1\d{4}(?!\d)"  # 123-45-6789, 123 45 6789, 123.45.6789
            r"|\b(?:SSN|SS\s*#|social\s+security(?:\s+(?:number|no\.?|#))?)"
            r"\s*[:#]?\s*\d(?:[ \-.]?\d){8}(?!\d)",
            re.IGNORECASE,
        ),
    ),
)

# A capitalised personal name (two or three words) immediately followed by a date, or a
# "LAST, FIRST [M.]" name (any letter case) followed by a date.
_NAME_THEN_DATE = re.compile(
    r"\b[A-ZÁÉÍÓÚÑ][a-záéíóúñ'’\-]+(?:\s+[A-ZÁÉÍÓÚÑ][a-záéíóúñ'’\-]+){1,2}\s*(?:\(|,)\s*(?P<date>(?i:"
    + _DATE
    + "))",
)
_LAST_FIRST_THEN_DATE = re.compile(
    r"\b[A-ZÁÉÍÓÚÑ][A-Za-záéíóúñÁÉÍÓÚÑ'’\-]+,\s*[A-ZÁÉÍÓÚÑ][A-Za-záéíóúñÁÉÍÓÚÑ'’\-]+(?:\s+[A-Z]\.?)?"
    r"\s*[(,]?\s*(?P<date>(?i:" + _DATE + "))",
)

_SPACES = re.compile(r" {2,}")

# Characters folded before matching, so look-alike digits and separators cannot hide PHI.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")


def normalise_for_matching(text: str) -> str:
    """``text`` as the guard reads it: NFKC (full-width digits become 0-9), format characters
    (zero-width space, soft hyphen, direction marks) removed, dashes folded to ``-`` and every
    kind of space to one ASCII space."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    folded = folded.translate(_DASHES)
    if not folded.isascii():
        folded = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in folded)
    return _SPACES.sub(" ", folded)


@lru_cache(maxsize=64)
def _extra(patterns: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for number, pattern in enumerate(patterns, start=1):
        try:
            compiled.append((f"a match for policy.phi_patterns #{number}", re.compile(pattern)))
        except re.error as exc:
            raise ConfigError(
                f"policy.phi_patterns #{number} is not a valid regular expression ({exc.msg}); fix it."
            ) from None
    return tuple(compiled)


def find_phi(text: str, extra_patterns: Iterable[str] = (), *, now: datetime | None = None) -> str | None:
    """What in ``text`` looks like patient information (e.g. ``"a date of birth"``), or None.

    A name followed by a date counts only when the date lies before the current year (a date
    of birth, not the date of the incident). Raises ``ConfigError`` for an invalid extra pattern.
    """
    extra = _extra(tuple(extra_patterns))
    for kind, pattern in extra:  # site patterns see the text as written, and as normalised
        if pattern.search(text):
            return kind
    text = normalise_for_matching(text)
    for kind, pattern in (*_BUILT_IN, *extra):
        if pattern.search(text):
            return kind
    this_year = (now or datetime.now(UTC)).year
    for name_pattern in (_NAME_THEN_DATE, _LAST_FIRST_THEN_DATE):
        for match in name_pattern.finditer(text):
            year = _year_of(match.group("date"))
            if year is not None and year < this_year:
                return "a name next to a date of birth"
    return None


def _year_of(date: str) -> int | None:
    m = _FOUR_DIGIT_YEAR.search(date)
    if m is not None:
        return int(m.group(0))
    short = re.search(r"[/.\-](\d{2})$", date)
    if short:
        value = int(short.group(1))
        return 1900 + value if value > datetime.now(UTC).year % 100 else 2000 + value
    return None


def check_phi(message: CrisisMessage, policy: PolicyConfig, *, channel: str) -> None:
    """Raise ``PolicyError`` if any text of ``message`` looks like patient information.

    ``channel`` is the public channel's display name, used in the sentence.
    """
    texts = [(language, message.text(language)) for language in message.languages]
    texts += [(language, t) for own in message.channel_text.values() for language, t in own.items()]
    for language, text in texts:
        fields = (
            ("headline", text.headline),
            ("instruction", text.instruction),
            ("description", text.description),
            ("event", message.event),
            ("link", text.web or ""),
        )
        for field, value in fields:
            kind = find_phi(value, policy.phi_patterns)
            if kind is not None:
                where = f"the {field}" + (f" ({language})" if len(message.languages) > 1 else "")
                raise PolicyError(
                    f"{channel} is public and {where} contains what looks like {kind}; remove it, "
                    "or override with a recorded reason if it is really not patient information."
                )
