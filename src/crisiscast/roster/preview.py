"""What the preview says about audiences: how many people each resolves to right now.

An Update or all-clear is not counted: it reaches whom its original reached. The contacts
are those of the first staff channel (SMS, voice, e-mail) the message selects
and the configuration enables. A drill reaches only the exercise audiences, so those are the
ones counted. ``AudiencePreview.refusal`` is the sentence refusing the send when a roster
audience resolves to nobody now (``crisiscast.roster.audiences.empty_audience_refusal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.contacts import load_contacts
from crisiscast.errors import ConfigError
from crisiscast.roster.audiences import audience_counts, empty_audience_refusal

if TYPE_CHECKING:
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["AudiencePreview", "audience_names_for", "preview_audiences", "staff_contacts_file"]


@dataclass(frozen=True, slots=True)
class AudiencePreview:
    counts: dict[str, int] = field(default_factory=dict)  # audience -> people now
    refusal: str | None = None


def audience_names_for(message: CrisisMessage, settings: Settings) -> list[str]:
    """The audiences the staff channels resolve: a drill's are only the exercise audiences."""
    from crisiscast.message import Status

    names = list(dict.fromkeys(message.audiences))
    if message.status is not Status.ACTUAL:
        allowed = settings.exercise_audiences
        names = [a for a in names if a in allowed] or list(allowed)
    return names


def preview_audiences(
    message: CrisisMessage, settings: Settings, *, now: datetime | None = None, roster_only: bool = False
) -> AudiencePreview:
    """Per audience, the people it reaches at ``now`` (empty when no staff channel is chosen,
    or its contacts file cannot be read: that channel's own preview says why). An Update or
    all-clear reaches exactly whom the original reached, so it is not counted or refused.
    ``roster_only`` (the send checks): nothing is read unless a roster audience is named."""
    from crisiscast.message import MsgType

    if message.msg_type is not MsgType.ALERT:
        return AudiencePreview()
    if roster_only and not any(a in settings.roster.audiences for a in audience_names_for(message, settings)):
        return AudiencePreview()  # the send checks need no contacts file read for group audiences
    found = staff_contacts_file(settings, message.channels)
    if found is None:
        return AudiencePreview()
    path, region = found
    try:
        contacts = load_contacts(path, default_region=region).contacts
    except ConfigError:
        return AudiencePreview()
    known = set(settings.audiences) | set(settings.roster.audiences)
    names = [a for a in audience_names_for(message, settings) if a in known]
    counts = audience_counts(settings, names, contacts, now or datetime.now(UTC))
    return AudiencePreview(counts, empty_audience_refusal(counts, settings))


def staff_contacts_file(
    settings: Settings, chosen: tuple[str, ...] | None = None
) -> tuple[Path, str] | None:
    """(contacts file, default region) of the first enabled per-person channel among ``chosen``
    (None: any), in registry order; None when there is none."""
    from crisiscast.channels.registry import specs

    for spec in specs():
        if not spec.audience_isolated or (chosen is not None and spec.name not in chosen):
            continue
        section = spec.config(settings)
        path = getattr(section, "contacts", None)
        if section.enabled and isinstance(path, str) and path:
            return settings.resolve(path), str(getattr(section, "default_region", "US"))
    return None
