"""``[channels.slack]``: where the staff alerts go in Slack, by name, and the sandbox address.

The incoming-webhook URLs are secrets (``CRISISCAST_SLACK_WEBHOOK_URL``,
``CRISISCAST_SLACK_EXERCISE_WEBHOOK_URL``): whoever holds one can post to the channel. The
configuration names the Slack channels they post to (``channel_name``, ``exercise_channel_name``),
for the preview, the report and the check that a drill never goes to the alert channel.

``sandbox_url`` sends the webhook's path to the local sandbox fake instead of Slack
(``crisiscast sandbox``, the demo, tests); it may only name this machine. Leave it unset in
production.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator

from crisiscast.config import ChannelSection

__all__ = ["SlackConfig"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SlackConfig(ChannelSection):
    channel_name: str = "#staff-alerts"
    exercise_channel_name: str | None = None
    sandbox_url: str | None = None
    max_requests_per_s: float | None = 1.0  # Slack: about one message per second per webhook

    @field_validator("sandbox_url")
    @classmethod
    def _local_only(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).hostname not in LOCAL_HOSTS:
            raise ValueError(
                "sandbox_url may only point at this machine (127.0.0.1 or localhost); remove it to "
                "post to Slack itself"
            )
        return value
