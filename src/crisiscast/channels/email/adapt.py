"""E-mail: the subject, a plain-text body and a simple accessible HTML body, per language.

Pure: the same message and language always give the same words.

- Subject: the exercise marker, ``Update:``/``All clear:`` for a follow-up, the severity
  (left out when unknown), then the headline — ``EXERCISE EXERCISE EXERCISE Severe: Fire in
  Building A``.
- Plain text (the first part of the message, what screen readers and watches show): the
  marker on the first and last line, headline, instruction, description, then the link.
- HTML: the same words, every one escaped (``html.escape``), in ``<html lang=…>`` with a
  ``<h1>`` headline, paragraphs and a plain link whose text is the address itself; no images,
  no tables, no colours that carry meaning.

The link is the message's own (``web``), else ``[channels.email] public_page_url``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from crisiscast.adapt.labels import Label, finish, label_for
from crisiscast.adapt.languages import contact_language, text_for
from crisiscast.channels.email.config import EmailConfig
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage, MsgType, Severity

__all__ = ["EmailText", "adapt_email"]

_KIND = {MsgType.UPDATE: "Update: ", MsgType.CANCEL: "All clear: ", MsgType.ALERT: ""}


@dataclass(frozen=True, slots=True)
class EmailText:
    """One language's e-mail: ``subject``, ``text`` (plain, first) and ``html``."""

    language: str
    subject: str
    text: str
    html: str


def adapt_email(
    message: CrisisMessage, language: str, config: EmailConfig, policy: PolicyConfig
) -> EmailText:
    """The e-mail for a contact who reads ``language`` (else the message's main language)."""
    lang = contact_language(message, language)
    words = text_for(message, lang, "email")
    label = label_for(message, policy)
    link = words.web or config.public_page_url
    severity = "" if message.severity is Severity.UNKNOWN else f"{message.severity.value}: "
    subject = label.apply(f"{_KIND[message.msg_type]}{severity}{_one_line(words.headline)}")
    paragraphs = [p for p in (words.instruction, *_paragraphs(words.description)) if p]
    lines = [words.headline, *paragraphs]
    if link:
        lines.append(link)
    body = "\n\n".join(lines)
    if label.marker:
        body = f"\n\n{body}\n\n{label.marker}"
    adapted = finish(label, lang, [body], lambda parts: {"characters": len(parts[0])})
    text = adapted.parts[0].replace(f"{label.marker} \n\n", f"{label.marker}\n\n", 1)
    return EmailText(
        language=lang,
        subject=subject,
        text=text,
        html=_html(lang, subject, label, [words.headline, *paragraphs], link),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _html(lang: str, subject: str, label: Label, words: list[str], link: str | None) -> str:
    """``words`` is the headline, then the paragraphs."""
    e = html.escape
    headline, *paragraphs = words
    marker = f"<p><strong>{e(label.marker)}</strong></p>\n" if label.marker else ""
    body = [marker, f"<h1>{e(headline)}</h1>\n"]
    body += [f"<p>{e(p)}</p>\n" for p in paragraphs]
    if link:
        body.append(f'<p><a href="{e(link, quote=True)}">{e(link)}</a></p>\n')
    body.append(marker)
    return (
        f'<!DOCTYPE html>\n<html lang="{e(lang, quote=True)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(subject)}</title>\n</head>\n<body>\n{''.join(body)}</body>\n</html>\n"
    )
