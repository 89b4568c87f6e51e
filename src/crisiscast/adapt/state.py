"""Banner and signage (MQTT): the message as a JSON-able state document.

The website banner and the MQTT retained message show the *current* state: an active alert,
or ``"cleared"`` once it is cancelled. Document keys::

    id, status ("active" | "cleared"), msg_type, severity, urgency, event, headline,
    instruction, description, web, language, translations {lang: {headline, instruction, web}},
    issued_at (crisiscast's time of issue), sent (the sender's), expires_at (ISO 8601 or None),
    exercise (bool), references

For an Exercise/Test message every headline (main and translations) starts with the marker and
``exercise`` is true. A Cancel message renders as a ``cleared`` document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crisiscast.adapt.labels import label_for
from crisiscast.adapt.languages import text_for
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage, MsgType, Status

__all__ = ["cleared_document", "state_document"]


def state_document(
    message: CrisisMessage,
    policy: PolicyConfig,
    channel: str | None = None,
    *,
    issued_at: datetime | None = None,
) -> dict[str, Any]:
    """The state document for ``message`` (``cleared`` for a Cancel), labelled. No PHI check.

    ``channel`` picks that channel's own words when the message has them. ``issued_at`` is
    crisiscast's own time of issue (when the dispatch was planned): documents are ordered by
    it, never by the sender's ``sent``, so a sender's wrong clock cannot freeze a banner or
    swallow the all-clear. Without it, now.
    """
    label = label_for(message, policy)
    main = text_for(message, message.language, channel)
    translations: dict[str, dict[str, Any]] = {}
    for lang in message.translations:
        t = text_for(message, lang, channel)
        translations[lang] = {"headline": label.apply(t.headline), "instruction": t.instruction, "web": t.web}
    return {
        "id": message.identifier,
        "status": "cleared" if message.msg_type is MsgType.CANCEL else "active",
        "msg_type": message.msg_type.value,
        "severity": message.severity.value,
        "urgency": message.urgency.value,
        "event": message.event,
        "headline": label.apply(main.headline),
        "instruction": main.instruction,
        "description": main.description,
        "web": main.web,
        "language": message.language,
        "translations": translations,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat(),
        "sent": message.sent.isoformat(),
        "expires_at": message.expires.isoformat() if message.expires else None,
        "exercise": message.status is not Status.ACTUAL,
        "references": list(message.references),
    }


def cleared_document(
    message: CrisisMessage, policy: PolicyConfig | None = None, *, issued_at: datetime | None = None
) -> dict[str, Any]:
    """The ``cleared`` document for ``message`` (same keys, ``status`` ``"cleared"``).

    ``policy`` supplies the Exercise/Test marker (default markers when None).
    """
    document = state_document(message, policy or PolicyConfig(), issued_at=issued_at)
    document["status"] = "cleared"
    return document
