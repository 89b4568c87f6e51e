"""Facebook: the message as a post on the hospital's Page (Graph API).

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.facebook.config import FacebookConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan, lazy_build
from crisiscast.isolation import page_identity

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "facebook"


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.facebook.preview import preview_facebook

    return preview_facebook(message, settings)


def _targets(config: FacebookConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "Facebook page",
            "exercise_page_id",
            config.page_id,
            config.exercise_page_id,
            page_identity(config.page_id),
            page_identity(config.exercise_page_id),
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A new post that refers to the original's post."""
    posts = [r.provider_id for r in lineage[0] if r.provider_id] if lineage else []
    if not posts:
        return FollowUpPlan()
    return FollowUpPlan(reply_to=posts[0], note=f"Facebook: a new post referring to post {posts[0]}")


SPEC: ChannelSpec[FacebookConfig] = ChannelSpec(
    name=NAME,
    title="Facebook Page",
    public=True,
    config_model=FacebookConfig,
    build=lazy_build("crisiscast.channels.facebook.channel"),
    preview=_preview,
    secret_names=(f"{NAME}_page_token", f"{NAME}_exercise_page_token"),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(
        FakeRole("graph", "crisiscast.sandbox.graph:FakeGraph", "graph_base_url", title="Facebook Graph API"),
    ),
)
