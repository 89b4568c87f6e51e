"""Exercise isolation from the configuration alone: an exercise target is never a production one.

The identity of each target, normalised once and used both by configuration validation
(``crisiscast.config.Settings``) and by the channel-build guard
(``crisiscast.lifecycle.isolation``):

- a file (the banner): its real path, so ``./var/b.json``, ``var/../var/b.json`` and a
  symbolic link to the same file are one file;
- a URL (banner CMS): without surrounding blanks or trailing slashes, in lower case;
- an MQTT topic prefix: without trailing slashes (the channel publishes under the prefix
  with its trailing slashes removed);
- a Facebook Page id: without surrounding blanks;
- a contact group: without surrounding blanks, compared without case (at least as broad as
  the contacts file, which lowercases groups).

``config_overlap(settings)`` returns the plain reason an exercise target of the settings is
a production target (None when none is). What needs a secret (the X credentials) or the
filesystem at send time (a link made after the configuration was loaded) is checked again
when the channels are built. This module imports nothing from crisiscast at run time, so
the configuration can use it without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiscast.config import Settings

__all__ = [
    "audience_overlap",
    "config_overlap",
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


def _targets(settings: Settings) -> list[tuple[str, str, str | None, str | None, str | None, str | None]]:
    """(what, setting, production, exercise, production identity, exercise identity) per target."""
    c = settings.channels
    out: list[tuple[str, str, str | None, str | None, str | None, str | None]] = [
        (
            "banner CMS URL",
            "[channels.banner] exercise_cms_url",
            c.banner.cms_url,
            c.banner.exercise_cms_url,
            url_identity(c.banner.cms_url),
            url_identity(c.banner.exercise_cms_url),
        ),
        (
            "Facebook page",
            "[channels.facebook] exercise_page_id",
            c.facebook.page_id,
            c.facebook.exercise_page_id,
            page_identity(c.facebook.page_id),
            page_identity(c.facebook.exercise_page_id),
        ),
    ]
    if c.mqtt.exercise_topic_prefix is not None:
        out.append(
            (
                "MQTT topic prefix",
                "[channels.mqtt] exercise_topic_prefix",
                c.mqtt.topic_prefix,
                c.mqtt.exercise_topic_prefix,
                topic_prefix_identity(c.mqtt.topic_prefix),
                topic_prefix_identity(c.mqtt.exercise_topic_prefix),
            )
        )
    if c.banner.exercise_path:
        out.append(
            (
                "banner path",
                "[channels.banner] exercise_path",
                c.banner.path,
                c.banner.exercise_path,
                file_identity(settings.resolve(c.banner.path)),
                file_identity(settings.resolve(c.banner.exercise_path)),
            )
        )
    return out


def config_overlap(settings: Settings) -> str | None:
    """The plain reason one of the configured exercise targets is a production one, or None."""
    reason = audience_overlap(settings)
    if reason is not None:
        return reason
    for what, setting, production, exercise, production_id, exercise_id in _targets(settings):
        if exercise_id is not None and exercise_id == production_id:
            spelt = "" if exercise == production else f" {exercise!r}"
            return (
                f"the exercise {what}{spelt} is the production one ({production!r}); "
                f"set {setting} to a target of its own"
            )
    return None
