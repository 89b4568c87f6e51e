"""Bluesky: the message as a post or a thread from the hospital's account (AT Protocol).

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
protocol lives in ``channel`` (the session in ``session``), the adaptation in ``adapt``,
Bluesky's measures and link facets in ``text``, the preview in ``preview``. Heavy modules
are imported only when the channel is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.bluesky.config import BlueskyConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan
from crisiscast.delivery import DeliveryState

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC", "handle_identity", "thread_tips"]

NAME = "bluesky"


def handle_identity(handle: str | None) -> str | None:
    """A handle as compared: without blanks and a leading ``@``, in lower case."""
    return (handle.strip().lstrip("@").lower() or None) if handle else None


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.bluesky.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.bluesky.preview import preview_bluesky

    return preview_bluesky(message, settings, SPEC.config(settings))


def _targets(config: BlueskyConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "Bluesky account",
            "exercise_handle",
            config.handle or None,
            config.exercise_handle,
            handle_identity(config.handle),
            handle_identity(config.exercise_handle),
        )
    ]


def _clash(exercise: Channel, production: Channel) -> str | None:
    """The drill account must be another account: another handle and another app password."""
    if exercise.account == production.account:
        handle = exercise.account.removeprefix("bluesky:")
        return f"the exercise Bluesky account is the production one ({handle})"
    mine = getattr(exercise, "password_fingerprint", None)
    theirs = getattr(production, "password_fingerprint", None)
    if mine is not None and theirs is not None and mine() == theirs():
        return (
            "the exercise Bluesky app password is the production account's; set "
            "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD to the drill account's app password"
        )
    return None


def thread_tips(records: Sequence[DeliveryRecord]) -> dict[str, str]:
    """The newest delivered post of each thread of one dispatch, by target (its language)."""
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
    note = f"Bluesky: a reply in the original thread (to post {tip})" if tip else None
    return FollowUpPlan(reply_to=tip, reply_to_target=per_thread, note=note)


SPEC: ChannelSpec[BlueskyConfig] = ChannelSpec(
    name=NAME,
    title="Bluesky",
    public=True,
    config_model=BlueskyConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_app_password", f"{NAME}_exercise_app_password"),
    exercise_targets=_targets,
    exercise_clash=_clash,
    follow_up=_follow_up,
    fakes=(
        FakeRole("bluesky", "crisiscast.sandbox.bluesky:FakeBluesky", "service_url", title="Bluesky PDS"),
    ),
)
