"""The banner state document: the message as the shared state document, in the banner's own words."""

from __future__ import annotations

from typing import Any

from crisiscast.adapt.phi import check_phi
from crisiscast.adapt.state import state_document
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_banner"]


def adapt_banner(message: CrisisMessage, policy: PolicyConfig, *, allow_phi: bool = False) -> dict[str, Any]:
    """The banner document for ``message``; ``PolicyError`` for PHI unless ``allow_phi``."""
    if not allow_phi:
        check_phi(message, policy, channel="The website banner")
    return state_document(message, policy, channel="banner")
