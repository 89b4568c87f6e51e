"""The mqtt state document: the message as the shared state document, in the mqtt's own words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crisiscast.adapt.state import state_document
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_mqtt"]


def adapt_mqtt(
    message: CrisisMessage, policy: PolicyConfig, *, issued_at: datetime | None = None
) -> dict[str, Any]:
    """The mqtt document for ``message``."""
    return state_document(message, policy, channel="mqtt", issued_at=issued_at)
