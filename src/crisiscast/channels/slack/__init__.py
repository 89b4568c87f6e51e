"""Slack: the staff alert in a Slack channel through an incoming webhook (not public).

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.slack.config import SlackConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["NAME", "SPEC"]

NAME = "slack"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.slack.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.slack.preview import preview_slack

    return preview_slack(message, settings)


def _identity(name: str | None) -> str | None:
    return name.strip().lstrip("#").casefold() if name else None


def _targets(config: SlackConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "Slack channel",
            "exercise_channel_name",
            config.channel_name,
            config.exercise_channel_name,
            _identity(config.channel_name),
            _identity(config.exercise_channel_name),
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A new message in the same channel (a webhook cannot edit or thread)."""
    return FollowUpPlan(note="Slack: a new message in the channel (a webhook cannot edit or reply)")


SPEC: ChannelSpec[SlackConfig] = ChannelSpec(
    name=NAME,
    title="Slack (staff)",
    public=False,
    config_model=SlackConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_webhook_url", f"{NAME}_exercise_webhook_url"),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(
        FakeRole(NAME, "crisiscast.sandbox.slack:FakeSlack", "sandbox_url", title="Slack incoming webhooks"),
    ),
)
