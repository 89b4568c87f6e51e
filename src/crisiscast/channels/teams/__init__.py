"""Microsoft Teams: the staff alert as an Adaptive Card in a Teams channel (a Workflows webhook).

Not public.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan
from crisiscast.channels.teams.config import TeamsConfig

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["NAME", "SPEC"]

NAME = "teams"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.teams.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.teams.preview import preview_teams

    return preview_teams(message, settings)


def _identity(name: str | None) -> str | None:
    return " ".join(name.replace("/", " / ").split()).casefold() if name else None


def _targets(config: TeamsConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "Teams channel",
            "exercise_channel_name",
            config.channel_name,
            config.exercise_channel_name,
            _identity(config.channel_name),
            _identity(config.exercise_channel_name),
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A new message in the same channel (a webhook cannot edit or thread)."""
    return FollowUpPlan(note="Microsoft Teams: a new card in the channel (a webhook cannot edit or reply)")


SPEC: ChannelSpec[TeamsConfig] = ChannelSpec(
    name=NAME,
    title="Microsoft Teams (staff)",
    public=False,
    config_model=TeamsConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_webhook_url", f"{NAME}_exercise_webhook_url"),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(
        FakeRole(NAME, "crisiscast.sandbox.teams:FakeTeams", "sandbox_url", title="Teams Workflows webhooks"),
    ),
)
