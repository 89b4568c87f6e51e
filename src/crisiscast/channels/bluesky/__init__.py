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
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, lazy_build
from crisiscast.channels.threads import drill_account_clash, reply_in_thread, thread_tips

if TYPE_CHECKING:
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC", "handle_identity", "thread_tips"]

NAME = "bluesky"


def handle_identity(handle: str | None) -> str | None:
    """A handle as compared: without blanks and a leading ``@``, in lower case."""
    return (handle.strip().lstrip("@").lower() or None) if handle else None


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


SPEC: ChannelSpec[BlueskyConfig] = ChannelSpec(
    name=NAME,
    title="Bluesky",
    public=True,
    config_model=BlueskyConfig,
    build=lazy_build("crisiscast.channels.bluesky.channel"),
    preview=_preview,
    secret_names=(f"{NAME}_app_password", f"{NAME}_exercise_app_password"),
    exercise_targets=_targets,
    exercise_clash=drill_account_clash(
        "Bluesky", "password_fingerprint", "app password", "CRISISCAST_BLUESKY_EXERCISE_APP_PASSWORD"
    ),
    follow_up=reply_in_thread("Bluesky", "post"),
    fakes=(
        FakeRole("bluesky", "crisiscast.sandbox.bluesky:FakeBluesky", "service_url", title="Bluesky PDS"),
    ),
)
