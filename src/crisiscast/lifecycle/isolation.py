"""Exercise isolation at channel build time: an Exercise never reaches a production target.

Configuration validation refuses an exercise target that is literally the production one.
This guard also catches what string comparison cannot, for every channel built for an
Exercise or Test message:

- X: the exercise credentials are the production account's (same account fingerprint);
- Facebook: the exercise Page is the production Page;
- banner: the exercise file is the production file (``./var/b.json``, ``var/../var/b.json``,
  a symlink) or the same CMS URL up to a trailing slash or letter case;
- MQTT: the exercise topic is the production topic (``prefix`` vs ``prefix/``);
- SMS (one Twilio account for both, kept apart by audiences): an exercise audience shares
  a contact group with a production audience, compared case-insensitively as the contacts
  file is.

``exercise_clash`` returns the plain reason (the channel is then skipped and the reason
recorded) or None.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.config import Secrets, Settings

__all__ = ["exercise_clash"]


def _url(value: str | None) -> str | None:
    return None if not value else value.strip().rstrip("/").lower()


def _banner_identity(channel: Any) -> tuple[str, str | None]:
    return os.path.realpath(channel.path), _url(getattr(channel, "cms_url", None))


def _sms_clash(settings: Settings) -> str | None:
    exercise = set(settings.exercise_audiences)
    production = {g.casefold() for a, gs in settings.audiences.items() if a not in exercise for g in gs}
    drill = {g.casefold() for a in exercise for g in settings.audiences.get(a, ())}
    shared = sorted(production & drill)
    if shared:
        return (
            "the exercise audiences share contact groups with production audiences "
            f"({', '.join(shared)}, compared without case); fix [audiences]"
        )
    return None


def exercise_clash(
    name: str,
    channel: Channel,
    settings: Settings,
    secrets: Secrets,
    build: Callable[..., Channel],
) -> str | None:
    """Why the exercise-built ``channel`` would reach production (None when it would not)."""
    from crisiscast.channels.base import ChannelUnavailable

    if name == "sms":
        return _sms_clash(settings)
    try:
        production = build(settings, secrets, exercise=False)
    except ChannelUnavailable:
        return None  # no production target to collide with
    if name == "banner":
        ex_path, ex_cms = _banner_identity(channel)
        prod_path, prod_cms = _banner_identity(production)
        if ex_path == prod_path:
            return f"the exercise banner file is the production one ({prod_path}); fix [channels.banner]"
        if ex_cms is not None and ex_cms == prod_cms:
            return "the exercise banner CMS URL is the production one; fix [channels.banner]"
        return None
    if channel.account == production.account:
        return (
            f"the exercise {name} target is the production one ({production.account}); fix [channels.{name}]"
        )
    return None
