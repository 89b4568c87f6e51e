"""What the public channels that post threads from one account have in common.

A follow-up (an Update, the all-clear) replies in the original's thread, to its newest post;
``reply_in_thread`` is such a channel's ``ChannelSpec.follow_up``. A drill account must be
another account, with another credential; ``drill_account_clash`` is its
``ChannelSpec.exercise_clash``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.spec import FollowUpPlan
from crisiscast.delivery import DeliveryState

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel

__all__ = ["drill_account_clash", "reply_in_thread", "thread_tips"]


def thread_tips(records: Sequence[DeliveryRecord]) -> dict[str, str]:
    """The newest delivered post of each thread of one dispatch, by thread target (its
    language), in plan order: an Update's Spanish thread continues the Spanish thread."""
    tips: dict[str, tuple[int, str]] = {}
    for r in records:
        if r.state is DeliveryState.DELIVERED and r.provider_id:
            best = tips.get(r.delivery.target)
            if best is None or r.delivery.part > best[0]:
                tips[r.delivery.target] = (r.delivery.part, r.provider_id)
    return {target: provider_id for target, (_, provider_id) in tips.items()}


def reply_in_thread(title: str, noun: str) -> Callable[[Sequence[Sequence[DeliveryRecord]]], FollowUpPlan]:
    """A follow-up that replies in the original's thread, to its newest ``noun`` (an all-clear
    after an update replies to the update); the preview's note names ``title``."""

    def follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
        tip: str | None = None
        per_thread: dict[str, str] = {}
        for records in lineage:
            tips = thread_tips(records)
            if tips:
                tip = next(iter(tips.values()))
                per_thread.update(tips)
        note = f"{title}: a reply in the original thread (to {noun} {tip})" if tip else None
        return FollowUpPlan(reply_to=tip, reply_to_target=per_thread, note=note)

    return follow_up


def drill_account_clash(
    title: str, fingerprint: str, credential: str, variable: str
) -> Callable[[Channel, Channel], str | None]:
    """The drill account must be another account (``Channel.account``) holding another
    credential (the channel's ``fingerprint()`` method, a one-way digest of it)."""

    def clash(exercise: Channel, production: Channel) -> str | None:
        if exercise.account == production.account:
            handle = exercise.account.partition(":")[2]
            return f"the exercise {title} account is the production one ({handle})"
        mine = getattr(exercise, fingerprint, None)
        theirs = getattr(production, fingerprint, None)
        if mine is not None and theirs is not None and mine() == theirs():
            return (
                f"the exercise {title} {credential} is the production account's {credential}; set {variable} "
                f"to the drill account's {credential}"
            )
        return None

    return clash
