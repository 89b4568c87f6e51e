"""The preview: exactly what each channel will send, per language, with its measures.

``preview_message`` asks every registered channel (``crisiscast.channels.registry``) that the
message selects and the configuration enables for its preview — the same adaptation the
channel sends with, so the preview is the text that goes out. Public channels are held to
the PHI guard here, as when the dispatch is planned. A channel that refuses the message (too
long, PHI, a contacts file it cannot read …) carries the plain sentence instead; the sentence
is repeated in ``errors``. Pure apart from reading the contacts files; sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisiscast.adapt.phi import check_phi
from crisiscast.channels.preview import ChannelPreview, JsonValue
from crisiscast.channels.registry import specs
from crisiscast.config import Settings
from crisiscast.errors import UserError
from crisiscast.message import CrisisMessage, Status
from crisiscast.roster.preview import preview_audiences

__all__ = ["MessageSummary", "Preview", "preview_message"]


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """What the preview's first line says about the message."""

    id: str
    status: str
    msg_type: str
    severity: str
    languages: tuple[str, ...]
    exercise: bool
    expires_at: str | None
    poll: str | None = None  # the question's answers and when it closes, in words
    escalation: tuple[str, ...] = ()  # each escalation step in words, in order

    @classmethod
    def of(cls, message: CrisisMessage) -> MessageSummary:
        return cls(
            id=message.identifier,
            status=message.status.value,
            msg_type=message.msg_type.value,
            severity=message.severity.value,
            languages=tuple(message.languages),
            exercise=message.status is not Status.ACTUAL,
            expires_at=message.expires.isoformat() if message.expires else None,
            poll=_poll_words(message),
            escalation=tuple(step.describe() for step in message.escalation),
        )


def _poll_words(message: CrisisMessage) -> str | None:
    poll = message.poll
    if poll is None:
        return None
    answers = ", ".join(f"{a.code} {poll.label(a.code, message.language)}" for a in poll.answers)
    return f"asks for an answer ({answers}); closes {poll.deadline_min} min after sending"


@dataclass(slots=True)
class Preview:
    """Per channel: its preview, or the sentence saying why it cannot take the message.

    ``channels`` and ``refused`` are in registry order; ``skipped`` holds the channels left
    out (not selected, disabled, or — once secrets are known — unable to serve) with why.
    """

    message: MessageSummary
    channels: dict[str, ChannelPreview] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)  # crisiscast.preflight's findings (JSON)
    forecast: list[dict[str, Any]] = field(default_factory=list)  # arrival forecast per channel
    audiences: dict[str, int] = field(default_factory=dict)  # people each audience reaches now
    audience_refusal: str | None = None  # a roster audience resolves to nobody (crisiscast.roster)

    @property
    def destinations(self) -> list[str]:
        """Every channel the message will go to: the ones the confirmation question names."""
        return [s.name for s in specs() if s.name in self.channels or s.name in self.refused]

    @property
    def errors(self) -> list[str]:
        return [f"{name}: {reason}" for name, reason in self.refused.items()]

    @property
    def contact_problems(self) -> list[str]:
        return [p for preview in self.channels.values() for p in preview.contact_problems]

    def leave_out(self, name: str, reason: str) -> None:
        """Move ``name`` to ``skipped`` (it cannot serve: a secret missing, no drill account)."""
        self.channels.pop(name, None)
        self.refused.pop(name, None)
        self.skipped.append((name, reason))

    def to_json(self) -> dict[str, JsonValue]:
        channels: dict[str, JsonValue] = {}
        for spec in specs():
            if spec.name in self.channels:
                channels[spec.name] = self.channels[spec.name].to_json()
            elif spec.name in self.refused:
                channels[spec.name] = {"error": self.refused[spec.name]}
        m = self.message
        return {
            "message": {
                "id": m.id,
                "status": m.status,
                "msg_type": m.msg_type,
                "severity": m.severity,
                "languages": list(m.languages),
                "exercise": m.exercise,
                "expires_at": m.expires_at,
                "poll": m.poll,
                "escalation": list(m.escalation),
            },
            "channels": channels,
            "skipped": [{"channel": name, "reason": reason} for name, reason in self.skipped],
            "errors": list(self.errors),
            "contact_problems": list(self.contact_problems),
            "quality": self.quality,
            "forecast": list(self.forecast),
            "audiences": dict(self.audiences),
            "audience_refusal": self.audience_refusal,
        }


def preview_message(message: CrisisMessage, settings: Settings, *, allow_phi: bool = False) -> Preview:
    """Everything the commander needs to see before sending ``message``."""
    result = Preview(MessageSummary.of(message))
    for spec in specs():
        if message.channels is not None and spec.name not in message.channels:
            result.skipped.append((spec.name, "not selected for this message"))
            continue
        if not spec.enabled(settings):
            result.skipped.append((spec.name, "disabled in the configuration"))
            continue
        try:
            if spec.public and not allow_phi:
                check_phi(message, settings.policy, channel=spec.title)
            result.channels[spec.name] = spec.preview(message, settings)
        except UserError as exc:
            result.refused[spec.name] = str(exc)
    people = preview_audiences(message, settings)
    result.audiences, result.audience_refusal = people.counts, people.refusal
    return result
