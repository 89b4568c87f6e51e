"""The channel registry: ``SPECS``, the one list of channels crisiscast has.

Adding a channel is one line here (and its package, ``crisiscast.channels.<name>``, whose
``SPEC`` says everything about it). Everything that lists channels or asks something of one
reads ``specs()`` — the configuration's sections, the secrets, the preview and the
confirmation question, planning, exercise isolation, follow-ups, the sandbox, the server.

``build_channels(settings, secrets, message)`` picks the channels the message asks for
(``message.channels``; None means every channel enabled in the configuration) and calls each
spec's ``build``. A channel that cannot serve — disabled, a secret missing, no exercise
target — raises ``ChannelUnavailable`` and is returned in ``skipped`` with that plain
reason; it never stops the other channels. Exercise and Test messages build every channel
with ``exercise=True``, and a channel whose exercise target turns out to be the production
one is skipped with the reason (``crisiscast.isolation.exercise_clash``).

A message that names an unknown channel is a ``MessageFileError``; any other error from
``build`` is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crisiscast.channels.banner import SPEC as BANNER
from crisiscast.channels.bluesky import SPEC as BLUESKY
from crisiscast.channels.cap_feed import SPEC as CAP
from crisiscast.channels.email import SPEC as EMAIL
from crisiscast.channels.facebook import SPEC as FACEBOOK
from crisiscast.channels.linkedin import SPEC as LINKEDIN
from crisiscast.channels.mastodon import SPEC as MASTODON
from crisiscast.channels.mqtt import SPEC as MQTT
from crisiscast.channels.slack import SPEC as SLACK
from crisiscast.channels.sms import SPEC as SMS
from crisiscast.channels.spec import ChannelSpec
from crisiscast.channels.teams import SPEC as TEAMS
from crisiscast.channels.twitter import SPEC as TWITTER
from crisiscast.channels.voice import SPEC as VOICE
from crisiscast.channels.wordpress import SPEC as WORDPRESS
from crisiscast.errors import MessageFileError

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = [
    "SPECS",
    "ChannelsFactory",
    "build_channels",
    "is_exercise",
    "names",
    "selected_channels",
    "spec_for",
    "specs",
    "title_of",
]

SPECS: tuple[ChannelSpec[Any], ...] = (
    TWITTER,
    FACEBOOK,
    SMS,
    VOICE,
    EMAIL,
    BANNER,
    MQTT,
    WORDPRESS,
    LINKEDIN,
    SLACK,
    TEAMS,
    MASTODON,
    BLUESKY,
    CAP,
)

# How the server, the workers and resume get their channels (tests pass their own).
ChannelsFactory = Callable[
    ["Settings", "Secrets", "CrisisMessage"], tuple[list["Channel"], list[tuple[str, str]]]
]


def specs() -> tuple[ChannelSpec[Any], ...]:
    """Every registered channel, in the order previews and reports show them."""
    return SPECS


def names() -> tuple[str, ...]:
    return tuple(s.name for s in specs())


def spec_for(name: str) -> ChannelSpec[Any]:
    """The spec of channel ``name`` (``KeyError`` for a name that is not registered)."""
    for spec in specs():
        if spec.name == name:
            return spec
    raise KeyError(name)


def title_of(name: str) -> str:
    """What people call channel ``name`` (the name itself for one that is not registered)."""
    try:
        return spec_for(name).title
    except KeyError:
        return name


def is_exercise(message: CrisisMessage) -> bool:
    """Exercise and Test messages go only to exercise targets."""
    from crisiscast.message import Status

    return message.status is not Status.ACTUAL


def unknown_channel_error(name: str) -> MessageFileError:
    return MessageFileError(f"The message names an unknown channel {name!r}; use {', '.join(names())}.")


def selected_channels(settings: Settings, message: CrisisMessage) -> tuple[list[str], list[tuple[str, str]]]:
    """The channel names the message goes to, and those left out with the reason.

    Raises ``MessageFileError`` for a channel name crisiscast does not know.
    """
    known = names()
    wanted = list(message.channels) if message.channels is not None else list(known)
    chosen: list[str] = []
    skipped: list[tuple[str, str]] = []
    for name in dict.fromkeys(wanted):
        if name not in known:
            raise unknown_channel_error(name)
        if not spec_for(name).enabled(settings):
            skipped.append((name, f"the {name} channel is disabled in the configuration"))
        else:
            chosen.append(name)
    return chosen, skipped


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
    from crisiscast.isolation import exercise_clash

    chosen, skipped = selected_channels(settings, message)
    exercise = is_exercise(message)
    channels: list[Channel] = []
    for name in chosen:
        if only is not None and name not in only:
            continue
        spec = spec_for(name)
        try:
            channel = spec.build(settings, secrets, exercise=exercise)
        except ChannelUnavailable as exc:
            skipped.append((name, str(exc)))
            continue
        clash = exercise_clash(spec, channel, settings, secrets) if exercise else None
        if clash is not None:  # never an Exercise to a production target, whatever the config says
            skipped.append((name, clash))
            continue
        channels.append(channel)
    return channels, skipped
