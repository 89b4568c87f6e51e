"""Exercise and Test markers: the one gate every rendering goes through.

An Exercise or Test message must never be mistaken for a real one, so every rendering of it,
on every channel, starts with the configured marker (``policy.exercise_marker`` /
``policy.test_marker``). Renderers never produce final text themselves: they build bodies and
measure them through ``Label.apply``, and only ``finish`` turns bodies into an ``Adapted`` (it
applies the label to every part). Documents (banner, MQTT) label their headlines through
``Label.apply`` as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crisiscast.adapt.model import Adapted
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, Status

__all__ = ["Label", "finish", "label_for"]


@dataclass(frozen=True, slots=True)
class Label:
    """The marker a message's renderings start with (empty for an Actual message)."""

    marker: str = ""

    def apply(self, body: str) -> str:
        """``body`` as it will go out: the marker, a space, then the body."""
        if not self.marker:
            return body
        return f"{self.marker} {body}" if body else self.marker

    def strip(self, text: str) -> str:
        """The body of a labelled ``text`` (the inverse of ``apply``)."""
        if self.marker and text.startswith(self.marker):
            return text[len(self.marker) :].removeprefix(" ")
        return text


def label_for(message: CrisisMessage, policy: PolicyConfig) -> Label:
    """The label for ``message``; raises ``PolicyError`` if an Exercise/Test marker is blank."""
    if message.status is Status.ACTUAL:
        return Label()
    if message.status is Status.EXERCISE:
        marker, setting = policy.exercise_marker.strip(), "policy.exercise_marker"
    else:
        marker, setting = policy.test_marker.strip(), "policy.test_marker"
    if not marker:
        raise PolicyError(
            f"The {message.status.value} marker is empty; set {setting} so that drills are never "
            "mistaken for real alerts."
        )
    return Label(marker)


def finish(
    label: Label,
    language: str,
    bodies: Iterable[str],
    metrics: Callable[[tuple[str, ...]], Mapping[str, Any]],
) -> Adapted:
    """The ``Adapted`` whose parts are ``bodies`` labelled; ``metrics`` is computed on the final parts."""
    parts = tuple(label.apply(body) for body in bodies)
    return Adapted(language=language, parts=parts, metrics=metrics(parts))
