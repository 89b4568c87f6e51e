"""``[channels.mastodon]``: the instance, the hospital's account and the drill account."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crisiscast.channels.mastodon.text import DEFAULT_MAX_CHARACTERS
from crisiscast.config import ChannelSection

__all__ = ["MastodonConfig"]


class MastodonConfig(ChannelSection):
    instance_url: str = "https://mastodon.example"
    account: str = ""  # the hospital's handle, "@hospital@mastodon.example"
    # Drills post from their own account (its own CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN),
    # on instance_url unless the drill account lives on another instance.
    exercise_account: str | None = None
    exercise_instance_url: str | None = None
    visibility: Literal["public", "unlisted"] = "public"
    # The texts are cut for this many characters; an instance that allows fewer (read from
    # /api/v2/instance when the channel starts) refuses the posts with a plain reason.
    max_characters: int = Field(default=DEFAULT_MAX_CHARACTERS, ge=100)
    max_thread_parts: int = Field(default=4, ge=1, le=25)
    # Mastodon allows 300 statuses per account in 3 hours; one a second keeps threads in order.
    max_requests_per_s: float | None = Field(default=1.0, gt=0)
