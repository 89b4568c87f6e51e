"""What adaptation produces: the exact text(s) one channel will send in one language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Adapted"]


@dataclass(frozen=True, slots=True)
class Adapted:
    """One rendering of a message for one channel.

    ``language`` is a language code (``"en"``), or codes joined by ``+`` for a bilingual
    rendering (``"en+es"``). ``parts`` has one element, except an X thread (one per post, in
    order). ``metrics`` describes the parts: ``{"weighted_lengths": [...]}`` for X,
    ``{"characters": n}`` for Facebook, ``{"encoding", "segments", "characters", "dropped"}``
    for SMS.

    Build it only through ``crisiscast.adapt.labels.finish``, which applies the Exercise/Test
    marker.
    """

    language: str
    parts: tuple[str, ...]
    metrics: Mapping[str, Any]
