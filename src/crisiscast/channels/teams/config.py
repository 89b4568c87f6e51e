"""``[channels.teams]``: where the staff alerts go in Microsoft Teams, by name, and the sandbox address.

The Workflows webhook URLs (``…logic.azure.com…/invoke?…&sig=…`` or
``…environment.api.powerplatform.com…/invoke?…&sig=…``) are secrets (``CRISISCAST_TEAMS_WEBHOOK_URL``,
``CRISISCAST_TEAMS_EXERCISE_WEBHOOK_URL``): whoever holds one can post to the channel. The
configuration names the Teams channels their workflows post to (``channel_name``, ``exercise_channel_name``),
for the preview, the report and the check that a drill never goes to the alert channel.

``sandbox_url`` sends the webhook's path to the local sandbox fake instead of Microsoft
(``crisiscast sandbox``, the demo, tests); it may only name this machine. Leave it unset in
production.
"""

from __future__ import annotations

from crisiscast.channels.webhook_post import WebhookSection

__all__ = ["TeamsConfig"]


class TeamsConfig(WebhookSection):
    channel_name: str = "Hospital Command / Alerts"  # team / channel the workflow posts to
    max_requests_per_s: float | None = 1.0  # a flow trigger throttles bursts; one card per alert
