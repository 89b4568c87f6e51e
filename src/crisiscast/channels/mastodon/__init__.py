"""Mastodon: the message as a status or a thread from the hospital's account.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
protocol lives in ``channel``, the adaptation in ``adapt``, Mastodon's count in ``text``,
the preview in ``preview``. Heavy modules are imported only when the channel is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crisiscast.channels.mastodon.config import MastodonConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan
from crisiscast.delivery import DeliveryState

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC", "account_identity", "thread_tips"]

NAME = "mastodon"


def account_identity(handle: str | None, instance_url: str) -> str | None:
    """``@user@instance`` in lower case; a bare ``user`` or ``@user`` is on ``instance_url``."""
    if not handle or not handle.strip():
        return None
    user, _, domain = handle.strip().lstrip("@").partition("@")
    domain = domain or (urlsplit(instance_url).netloc or instance_url)
    return f"@{user}@{domain}".lower()


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.mastodon.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.mastodon.preview import preview_mastodon

    return preview_mastodon(message, settings, SPEC.config(settings))


def _targets(config: MastodonConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    exercise_instance = config.exercise_instance_url or config.instance_url
    return [
        ExerciseTarget(
            "Mastodon account",
            "exercise_account",
            config.account or None,
            config.exercise_account,
            account_identity(config.account, config.instance_url),
            account_identity(config.exercise_account, exercise_instance),
        )
    ]


def _clash(exercise: Channel, production: Channel) -> str | None:
    """The drill account must be another account: another handle and another token."""
    if exercise.account == production.account:
        handle = exercise.account.removeprefix("mastodon:")
        return f"the exercise Mastodon account is the production one ({handle})"
    same_token = getattr(exercise, "token_fingerprint", None)
    other = getattr(production, "token_fingerprint", None)
    if same_token is not None and other is not None and same_token() == other():
        return (
            "the exercise Mastodon token is the production account's token; set "
            "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN to the drill account's token"
        )
    return None


def thread_tips(records: Sequence[DeliveryRecord]) -> dict[str, str]:
    """The newest delivered status of each thread of one dispatch, by target (its language)."""
    tips: dict[str, tuple[int, str]] = {}
    for r in records:
        if r.state is DeliveryState.DELIVERED and r.provider_id:
            best = tips.get(r.delivery.target)
            if best is None or r.delivery.part > best[0]:
                tips[r.delivery.target] = (r.delivery.part, r.provider_id)
    return {target: provider_id for target, (_, provider_id) in tips.items()}


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """A reply in the original's thread, to its newest status (an all-clear after an update
    replies to the update)."""
    tip: str | None = None
    per_thread: dict[str, str] = {}
    for records in lineage:
        tips = thread_tips(records)
        if tips:
            tip = next(iter(tips.values()))
            per_thread.update(tips)
    note = f"Mastodon: a reply in the original thread (to status {tip})" if tip else None
    return FollowUpPlan(reply_to=tip, reply_to_target=per_thread, note=note)


SPEC: ChannelSpec[MastodonConfig] = ChannelSpec(
    name=NAME,
    title="Mastodon",
    public=True,
    config_model=MastodonConfig,
    build=_build,
    preview=_preview,
    secret_names=(f"{NAME}_access_token", f"{NAME}_exercise_access_token"),
    exercise_targets=_targets,
    exercise_clash=_clash,
    follow_up=_follow_up,
    fakes=(
        FakeRole(
            "mastodon", "crisiscast.sandbox.mastodon:FakeMastodon", "instance_url", title="Mastodon instance"
        ),
    ),
)
