"""``[channels.bluesky]``: the PDS, the hospital's handle and the drill account's."""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["BlueskyConfig"]


class BlueskyConfig(ChannelSection):
    service_url: str = "https://bsky.social"  # the account's PDS (or the bsky.social entryway)
    handle: str = ""  # "hospital.example.org"
    # Drills post from their own account (its own CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD), on
    # service_url unless the drill account lives on another PDS.
    exercise_handle: str | None = None
    exercise_service_url: str | None = None
    max_thread_parts: int = Field(default=4, ge=1, le=25)
    # A create costs 3 of the 5,000 points an account has per hour (1,666 posts); one a second
    # keeps threads in order.
    max_requests_per_s: float | None = Field(default=1.0, gt=0)
