"""``[channels.banner]``: the banner state files and the optional CMS to PUT them to."""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["BannerConfig"]


class BannerConfig(ChannelSection):
    path: str = "var/banner.json"
    exercise_path: str | None = "var/banner-exercise.json"
    cms_url: str | None = None  # optional: PUT the banner JSON here too
    exercise_cms_url: str | None = None  # exercise banners go to a CMS only when this is set
    max_concurrency: int = Field(default=1, ge=1)  # one state file: one write at a time
