"""X (Twitter): the message as a post or a thread, from the hospital's account.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
protocol lives in ``channel``, the adaptation in ``adapt``, X's weighted length in ``text``,
the preview in ``preview``. Heavy modules are imported only when the channel is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.spec import ChannelSpec, FakeRole, FollowUpPlan, lazy_build
from crisiscast.channels.twitter.config import TwitterConfig
from crisiscast.delivery import DeliveryState

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC", "thread_tips"]

NAME = "twitter"
SECRET_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.twitter.preview import preview_twitter

    return preview_twitter(message, settings, SPEC.config(settings))


def thread_tips(records: Sequence[DeliveryRecord]) -> dict[str, str]:
    """The newest delivered post of each X thread of one dispatch, by thread target (its
    language), in plan order: an Update's Spanish thread continues the Spanish thread."""
    tips: dict[str, tuple[int, str]] = {}
    for r in records:
        if r.state is DeliveryState.DELIVERED and r.provider_id:
            best = tips.get(r.delivery.target)
            if best is None or r.delivery.part > best[0]:
                tips[r.delivery.target] = (r.delivery.part, r.provider_id)
    return {target: provider_id for target, (_, provider_id) in tips.items()}


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A reply in the original's thread, to its newest post (an all-clear after an update
    replies to the update)."""
    tip: str | None = None
    per_thread: dict[str, str] = {}
    for records in lineage:
        tips = thread_tips(records)
        if tips:
            tip = next(iter(tips.values()))
            per_thread.update(tips)
    note = f"X: a reply in the original thread (to post {tip})" if tip else None
    return FollowUpPlan(reply_to=tip, reply_to_target=per_thread, note=note)


SPEC: ChannelSpec[TwitterConfig] = ChannelSpec(
    name=NAME,
    title="X (Twitter)",
    public=True,
    config_model=TwitterConfig,
    build=lazy_build("crisiscast.channels.twitter.channel"),
    preview=_preview,
    secret_names=tuple(f"{NAME}_{f}" for f in SECRET_FIELDS)
    + tuple(f"{NAME}_exercise_{f}" for f in SECRET_FIELDS),
    follow_up=_follow_up,
    fakes=(
        FakeRole("x", "crisiscast.sandbox.x:FakeX", "api_base_url", title="X API (production account)"),
        FakeRole(
            "x_exercise",
            "crisiscast.sandbox.x:FakeX",
            "exercise_api_base_url",
            exercise=True,
            title="X API (exercise account)",
        ),
    ),
)
