"""X (Twitter): the message as a post or a thread, from the hospital's account.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
protocol lives in ``channel``, the adaptation in ``adapt``, X's weighted length in ``text``,
the preview in ``preview``. Heavy modules are imported only when the channel is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crisiscast.channels.spec import ChannelSpec, FakeRole, lazy_build
from crisiscast.channels.threads import reply_in_thread, thread_tips
from crisiscast.channels.twitter.config import TwitterConfig

if TYPE_CHECKING:
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC", "thread_tips"]

NAME = "twitter"
SECRET_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.twitter.preview import preview_twitter

    return preview_twitter(message, settings, SPEC.config(settings))


SPEC: ChannelSpec[TwitterConfig] = ChannelSpec(
    name=NAME,
    title="X (Twitter)",
    public=True,
    config_model=TwitterConfig,
    build=lazy_build("crisiscast.channels.twitter.channel"),
    preview=_preview,
    secret_names=tuple(f"{NAME}_{f}" for f in SECRET_FIELDS)
    + tuple(f"{NAME}_exercise_{f}" for f in SECRET_FIELDS),
    follow_up=reply_in_thread("X", "post"),
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
