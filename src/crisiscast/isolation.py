"""Exercise isolation: an Exercise never reaches a production target, whatever the config says.

Checked twice, with one normalisation of every target's identity:

- at configuration load (``config_overlap``, called by ``crisiscast.config.Settings``): every
  pair of targets a channel's spec names (``ChannelSpec.exercise_targets``) and the
  audiences;
- when the channels of an Exercise or Test message are built (``exercise_clash``, called by
  the registry), with what only built channels know: the X drill credentials are the
  production account's, a symbolic link made after the configuration was loaded, the same
  broker topic; a channel kept apart by audiences (SMS) by its audiences.

The identities:

- a file (the banner): its real path, so ``./var/b.json``, ``var/../var/b.json`` and a
  symbolic link to the same file are one file;
- a URL (banner CMS): without surrounding blanks or trailing slashes, in lower case;
- an MQTT topic prefix: without trailing slashes (the channel publishes under the prefix
  with its trailing slashes removed);
- a Facebook Page id: without surrounding blanks;
- a contact group: without surrounding blanks, compared without case (at least as broad as
  the contacts file, which lowercases groups).

Both return the plain reason (the configuration is refused, or the channel skipped with the
reason recorded) or None. This module imports crisiscast's channels only inside functions,
so the configuration can use it without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.channels.spec import ChannelSpec
    from crisiscast.config import Secrets, Settings

__all__ = [
    "audience_overlap",
    "config_overlap",
    "exercise_clash",
    "file_identity",
    "group_identity",
    "page_identity",
    "topic_prefix_identity",
    "url_identity",
]


def file_identity(path: str | Path) -> str:
    """The real path of ``path`` (links followed as far as they exist; the file may not)."""
    return os.path.realpath(path)


def url_identity(url: str | None) -> str | None:
    """``url`` without blanks or trailing slashes, in lower case (None when unset or empty)."""
    return (url.strip().rstrip("/").lower() or None) if url else None


def topic_prefix_identity(prefix: str) -> str:
    """The MQTT topic prefix as published under: trailing slashes removed."""
    return prefix.rstrip("/")


def page_identity(page_id: str | None) -> str | None:
    """The Facebook Page id without blanks (None when unset or empty)."""
    return (page_id.strip() or None) if page_id else None


def group_identity(group: str) -> str:
    """A contact group as compared between audiences: stripped and case-folded."""
    return group.strip().casefold()


def audience_overlap(settings: Settings) -> str | None:
    """The plain reason an exercise audience reaches a production contact group, or None."""
    exercise = set(settings.exercise_audiences)
    production = {
        group_identity(g): (a, g) for a, gs in settings.audiences.items() if a not in exercise for g in gs
    }
    for audience in settings.exercise_audiences:
        for group in settings.audiences.get(audience, ()):
            clash = production.get(group_identity(group))
            if clash is not None:
                also = "" if clash[1] == group else f" (as {clash[1]!r}; groups compare without case)"
                return (
                    f"the exercise audience {audience!r} shares the contact group {group!r} with the "
                    f"production audience {clash[0]!r}{also}; give drills a contact group of their own "
                    "in [audiences]"
                )
    return None


def config_overlap(settings: Settings) -> str | None:
    """The plain reason one of the configured exercise targets is a production one, or None."""
    from crisiscast.channels.registry import specs

    reason = audience_overlap(settings)
    if reason is not None:
        return reason
    for spec in specs():
        for target in spec.exercise_targets(spec.config(settings), settings):
            if target.exercise_id is not None and target.exercise_id == target.production_id:
                spelt = "" if target.exercise == target.production else f" {target.exercise!r}"
                return (
                    f"the exercise {target.what}{spelt} is the production one ({target.production!r}); "
                    f"set [channels.{spec.name}] {target.setting} to a target of its own"
                )
    return None


def exercise_clash(
    spec: ChannelSpec[Any], channel: Channel, settings: Settings, secrets: Secrets
) -> str | None:
    """Why the exercise-built ``channel`` would reach production (None when it would not).

    Channels kept apart by audiences (one provider account for both) are checked by the
    audiences; the others against the production channel built from the same configuration
    and secrets, with the spec's own comparison or else by provider account.
    """
    from crisiscast.channels.base import ChannelUnavailable

    if spec.audience_isolated:
        return audience_overlap(settings)
    try:
        production = spec.build(settings, secrets, exercise=False)
    except ChannelUnavailable:
        return None  # no production target to collide with
    if spec.exercise_clash is not None:
        return spec.exercise_clash(channel, production)
    if channel.account == production.account:
        return (
            f"the exercise {spec.name} target is the production one ({production.account}); "
            f"fix [channels.{spec.name}]"
        )
    return None
