"""LinkedIn: the message as a post of the hospital's organization page.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.linkedin.config import LinkedInConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan, HealthProbe

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["NAME", "SPEC"]

NAME = "linkedin"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.linkedin.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.linkedin.preview import preview_linkedin

    return preview_linkedin(message, settings)


def _probe(config: LinkedInConfig, secrets: Secrets) -> HealthProbe:
    from crisiscast.channels.linkedin.token import linkedin_probe

    return linkedin_probe(config, secrets)


def _identity(organization_id: str | None) -> str | None:
    return organization_id.strip().lstrip("0") or "0" if organization_id else None


def _targets(config: LinkedInConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "LinkedIn organization",
            "exercise_organization_id",
            config.organization_id,
            config.exercise_organization_id,
            _identity(config.organization_id),
            _identity(config.exercise_organization_id),
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A new post that refers to the original's post (an edit would reach nobody's feed)."""
    posts = [r.provider_id for r in lineage[0] if r.provider_id] if lineage else []
    if not posts:
        return FollowUpPlan()
    return FollowUpPlan(reply_to=posts[0], note=f"LinkedIn: a new post referring to post {posts[0]}")


SPEC: ChannelSpec[LinkedInConfig] = ChannelSpec(
    name=NAME,
    title="LinkedIn page",
    public=True,
    config_model=LinkedInConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_access_token", f"{NAME}_exercise_access_token"),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(FakeRole(NAME, "crisiscast.sandbox.linkedin:FakeLinkedIn", "api_base_url", title="LinkedIn API"),),
    probe=_probe,
)
