"""Exercise isolation at channel build time: an Exercise never reaches a production target.

Configuration validation (``crisiscast.isolation.config_overlap``) already refuses every
exercise target that is a production one as far as the configuration alone can tell. This
guard checks again, for every channel built for an Exercise or Test message, with what only
the built channels know, using the same normalisation:

- X: the exercise credentials are the production account's (same account fingerprint, a
  secret the configuration never holds);
- banner: the exercise file is the production file through a symbolic link made after the
  configuration was loaded, or the same CMS URL;
- Facebook and MQTT: the built channel's account (Page, broker and topic) is the production one;
- SMS (one Twilio account for both, kept apart by audiences): an exercise audience shares a
  contact group with a production audience.

``exercise_clash`` returns the plain reason (the channel is then skipped and the reason
recorded) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crisiscast.isolation import audience_overlap, file_identity, url_identity

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.config import Secrets, Settings

__all__ = ["exercise_clash"]


def _banner_identity(channel: Any) -> tuple[str, str | None]:
    return file_identity(channel.path), url_identity(getattr(channel, "cms_url", None))


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
        return audience_overlap(settings)
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
