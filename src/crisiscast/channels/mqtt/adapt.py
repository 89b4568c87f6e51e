"""The mqtt state document: the message as the shared state document, in the mqtt's own words."""

from __future__ import annotations

from typing import Any

from crisiscast.adapt.phi import check_phi
from crisiscast.adapt.state import state_document
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["adapt_mqtt"]


def adapt_mqtt(message: CrisisMessage, policy: PolicyConfig, *, allow_phi: bool = False) -> dict[str, Any]:
    """The mqtt document for ``message``; ``PolicyError`` for PHI unless ``allow_phi``."""
    if not allow_phi:
        check_phi(message, policy, channel="Signage (MQTT)")
    return state_document(message, policy, channel="mqtt")
