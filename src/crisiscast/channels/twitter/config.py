"""``[channels.twitter]``: the X account's API host, thread length and drill account."""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["TwitterConfig"]


class TwitterConfig(ChannelSection):
    api_base_url: str = "https://api.x.com"
    max_thread_parts: int = Field(default=4, ge=1, le=25)
    # The exercise account is the one whose CRISISCAST_TWITTER_EXERCISE_* credentials are set; its
    # API host is api_base_url unless set here (the sandbox runs the drill account on its own port).
    exercise_api_base_url: str | None = None
