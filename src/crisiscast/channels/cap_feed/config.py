"""``[channels.cap_feed]``: the CAP 1.2 feeds ``crisiscast serve`` publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["CapConfig"]


class CapConfig(ChannelSection):
    feed_path: str = Field(default="/cap/feed.atom", pattern=r"^/[A-Za-z0-9/_.-]+$")
    # Exercise and Test alerts are published on this feed only (None: not in exercises).
    exercise_feed_path: str | None = Field(default="/cap/exercise/feed.atom", pattern=r"^/[A-Za-z0-9/_.-]+$")
    feed_title: str = "Hospital alerts"
    sender_name: str = ""  # CAP senderName, e.g. "St Example Hospital"
    # CAP category of every info block
    category: Literal[
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    ] = "Health"
    area_desc: str = ""  # CAP area, e.g. "St Example Hospital campus, 1 Main St" (omitted when empty)
    max_entries: int = Field(default=50, ge=1, le=500)
    feed_max_age_s: int = Field(default=60, ge=0)  # Cache-Control of the feeds
