"""The banner state document: the message as the shared state document, in the banner's own words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crisiscast.adapt.state import state_document
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_banner"]


def adapt_banner(
    message: CrisisMessage, policy: PolicyConfig, *, issued_at: datetime | None = None
) -> dict[str, Any]:
    """The banner document for ``message``."""
    return state_document(message, policy, channel="banner", issued_at=issued_at)
