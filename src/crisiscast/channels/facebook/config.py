"""``[channels.facebook]``: the Graph API host and version, the Page and the drill Page."""

from __future__ import annotations

from crisiscast.config import ChannelSection

__all__ = ["FacebookConfig"]


class FacebookConfig(ChannelSection):
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    page_id: str = ""
    exercise_page_id: str | None = None
