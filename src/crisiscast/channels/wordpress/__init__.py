"""WordPress: the message as a sticky news post on the hospital's own site (its site of record).

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan
from crisiscast.channels.wordpress.config import WordPressConfig

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["NAME", "SPEC"]

NAME = "wordpress"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.wordpress.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.wordpress.preview import preview_wordpress

    return preview_wordpress(message, settings)


def _targets(config: WordPressConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    from crisiscast.channels.wordpress.channel import site_identity

    return [
        ExerciseTarget(
            "WordPress site",
            "exercise_site_url",
            config.site_url,
            config.exercise_site_url,
            site_identity(config.site_url),
            site_identity(config.exercise_site_url),
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """An Update or all-clear edits the original post (the all-clear also unpins it)."""
    posts = [r.provider_id for r in lineage[0] if r.provider_id] if lineage else []
    if not posts:
        return FollowUpPlan(note="WordPress: the original post was not published; this is a new post")
    return FollowUpPlan(
        reply_to=posts[0], note=f"WordPress: edits post {posts[0]} (says when it was updated)"
    )


SPEC: ChannelSpec[WordPressConfig] = ChannelSpec(
    name=NAME,
    title="WordPress news post",
    public=True,
    config_model=WordPressConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_app_password", f"{NAME}_exercise_app_password"),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(
        FakeRole(NAME, "crisiscast.sandbox.wordpress:FakeWordPress", "site_url", title="WordPress site"),
        FakeRole(
            f"{NAME}_exercise",
            "crisiscast.sandbox.wordpress:FakeWordPress",
            "exercise_site_url",
            exercise=True,
            title="WordPress drill site",
        ),
    ),
)
