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
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, lazy_build
from crisiscast.channels.threads import drill_account_clash, reply_in_thread, thread_tips

if TYPE_CHECKING:
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
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


SPEC: ChannelSpec[MastodonConfig] = ChannelSpec(
    name=NAME,
    title="Mastodon",
    public=True,
    config_model=MastodonConfig,
    build=lazy_build("crisiscast.channels.mastodon.channel"),
    preview=_preview,
    secret_names=(f"{NAME}_access_token", f"{NAME}_exercise_access_token"),
    exercise_targets=_targets,
    exercise_clash=drill_account_clash(
        "Mastodon", "token_fingerprint", "token", "CRISISCAST_MASTODON_EXERCISE_ACCESS_TOKEN"
    ),
    follow_up=reply_in_thread("Mastodon", "status"),
    fakes=(
        FakeRole(
            "mastodon", "crisiscast.sandbox.mastodon:FakeMastodon", "instance_url", title="Mastodon instance"
        ),
    ),
)
