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

from crisiscast.channels.webhook_post import WebhookSection

__all__ = ["SlackConfig"]


class SlackConfig(WebhookSection):
    channel_name: str = "#staff-alerts"
    max_requests_per_s: float | None = 1.0  # Slack: about one message per second per webhook
