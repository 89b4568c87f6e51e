"""The e-mail preview: the exact subject and plain-text body per language, who gets it, and
how long the configured rate takes to hand every message to the server.

Recipients are counted from the contacts file exactly as the channel selects them
(``EmailChannel.recipients``). A contacts file that cannot be read is a ``UserError``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.channels.base import RenderContext
from crisiscast.channels.email.adapt import adapt_email
from crisiscast.channels.email.config import EmailConfig
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.config import Settings
from crisiscast.contacts import load_contacts
from crisiscast.message import CrisisMessage, Status

__all__ = ["EmailPreview", "EmailTextPreview", "preview_email", "send_minutes"]


def send_minutes(recipients: int, per_s: float | None) -> float | None:
    """Minutes to hand ``recipients`` messages over at ``per_s`` (None: no configured limit)."""
    if per_s is None or recipients == 0:
        return None
    return recipients / per_s / 60.0


@dataclass(frozen=True, slots=True)
class EmailTextPreview:
    language: str
    subject: str
    text: str
    html: str
    recipients: int


@dataclass(frozen=True, slots=True)
class EmailPreview:
    texts: tuple[EmailTextPreview, ...]
    max_requests_per_s: float | None
    contact_problems: tuple[str, ...] = ()

    @property
    def recipients(self) -> int:
        return sum(t.recipients for t in self.texts)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "max_requests_per_s": self.max_requests_per_s,
            "recipients": self.recipients,
            "send_minutes": send_minutes(self.recipients, self.max_requests_per_s),
            "renderings": [
                {
                    "language": t.language,
                    "subject": t.subject,
                    "text": t.text,
                    "html": t.html,
                    "recipients": t.recipients,
                }
                for t in self.texts
            ],
            "contact_problems": list(self.contact_problems),
        }

    def panels(self) -> Sequence[PreviewPanel]:
        return [
            PreviewPanel(
                t.language,
                (f"Subject: {t.subject}\n\n{t.text}",),
                f"{t.recipients} recipients · {len(t.text)} characters · plain text + HTML",
            )
            for t in self.texts
        ]

    def summary(self) -> str | None:
        minutes = send_minutes(self.recipients, self.max_requests_per_s)
        pace = "" if minutes is None else f"; at {self.max_requests_per_s:g}/s about {math.ceil(minutes)} min"
        return f"E-mail to {self.recipients} addresses, one SMTP transaction each{pace}"


def preview_email(message: CrisisMessage, settings: Settings, config: EmailConfig) -> EmailPreview:
    """The e-mail per language with its recipients, as ``render`` would produce it."""
    from crisiscast.channels.email.channel import EmailChannel
    from crisiscast.channels.email.smtp import SmtpServer

    contacts = load_contacts(settings.resolve(config.contacts), default_region=config.default_region)
    placeholder = SmtpServer("preview", 0, "none", "none", "", None, 1.0)
    channel = EmailChannel(settings, placeholder, contacts, exercise=message.status is not Status.ACTUAL)
    chosen = channel.recipients(message, RenderContext(dispatch_id="preview"))
    counts: Counter[str] = Counter()
    words = {}
    for contact in chosen:
        text = adapt_email(message, contact.language, config, settings.policy)
        counts[text.language] += 1
        words[text.language] = text
    if not words:
        words[message.language] = adapt_email(message, message.language, config, settings.policy)
    texts = tuple(
        EmailTextPreview(w.language, w.subject, w.text, w.html, counts[w.language])
        for lang in message.languages
        if (w := words.get(lang)) is not None
    )
    problems = tuple(str(p) for p in (*contacts.problems, *contacts.notes))
    return EmailPreview(texts, config.max_requests_per_s, problems)
