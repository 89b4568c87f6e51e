"""The channel registry: which channels serve a message, built from the configuration.

``build_channels(settings, secrets, message)`` picks the channels the message asks for
(``message.channels``; None means every channel enabled in the configuration), imports each
channel module lazily (``crisiscast.channels.<name>``) and calls its
``build(settings, secrets, exercise=...)``. A channel that cannot serve — disabled, a secret
missing, no exercise target — raises ``ChannelUnavailable`` and is returned in ``skipped``
with that plain reason; it never stops the other channels.

Exercise and Test messages are never sent to production targets: both build the channels
with ``exercise=True`` (exercise accounts, pages, topics and audiences), and a channel whose
exercise target turns out to be the production one is skipped with the reason
(``crisiscast.lifecycle.isolation``).

A message that names an unknown channel is a ``MessageFileError``; a channel module that is
not installed is skipped with a plain reason. Any other error from ``build`` is a bug and
propagates.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from crisiscast.errors import MessageFileError

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["CHANNEL_NAMES", "ChannelsFactory", "build_channels", "is_exercise", "selected_channels"]

CHANNEL_NAMES = ("twitter", "facebook", "sms", "banner", "mqtt")

Builder = Callable[..., "Channel"]
# How the server, the workers and resume get their channels (tests pass their own).
ChannelsFactory = Callable[
    ["Settings", "Secrets", "CrisisMessage"], tuple[list["Channel"], list[tuple[str, str]]]
]


def is_exercise(message: CrisisMessage) -> bool:
    """Exercise and Test messages go only to exercise targets."""
    from crisiscast.message import Status

    return message.status is not Status.ACTUAL


def _enabled(settings: Settings, name: str) -> bool:
    return bool(getattr(settings.channels, name).enabled)


def selected_channels(settings: Settings, message: CrisisMessage) -> tuple[list[str], list[tuple[str, str]]]:
    """The channel names the message goes to, and those left out with the reason.

    Raises ``MessageFileError`` for a channel name crisiscast does not know.
    """
    wanted = list(message.channels) if message.channels is not None else list(CHANNEL_NAMES)
    names: list[str] = []
    skipped: list[tuple[str, str]] = []
    for name in dict.fromkeys(wanted):
        if name not in CHANNEL_NAMES:
            raise MessageFileError(
                f"The message names an unknown channel {name!r}; use {', '.join(CHANNEL_NAMES)}."
            )
        if not _enabled(settings, name):
            skipped.append((name, f"the {name} channel is disabled in the configuration"))
        else:
            names.append(name)
    return names, skipped


def _builder(name: str) -> Builder | None:
    module_name = f"crisiscast.channels.{name}.channel"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return cast(Builder, module.build)


def build_channels(
    settings: Settings,
    secrets: Secrets,
    message: CrisisMessage,
    *,
    only: Sequence[str] | None = None,
) -> tuple[list[Channel], list[tuple[str, str]]]:
    """Build every channel the message goes to: ``(channels, skipped)``.

    ``skipped`` holds ``(name, reason)`` for each channel that was asked for (or enabled) but
    cannot serve, in plain words. ``only`` further restricts the channels (e.g. the demo
    leaving out MQTT when no broker runs).
    """
    from crisiscast.channels.base import ChannelUnavailable
    from crisiscast.lifecycle.isolation import exercise_clash

    names, skipped = selected_channels(settings, message)
    exercise = is_exercise(message)
    channels: list[Channel] = []
    for name in names:
        if only is not None and name not in only:
            continue
        build = _builder(name)
        if build is None:
            skipped.append((name, f"the {name} channel is not available in this installation"))
            continue
        try:
            channel = build(settings, secrets, exercise=exercise)
        except ChannelUnavailable as exc:
            skipped.append((name, str(exc)))
            continue
        clash = exercise_clash(name, channel, settings, secrets, build) if exercise else None
        if clash is not None:  # never an Exercise to a production target, whatever the config says
            skipped.append((name, clash))
            continue
        channels.append(channel)
    return channels, skipped
