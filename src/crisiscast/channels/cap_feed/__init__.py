"""CAP 1.2 feed out: the alert on the hospital's Atom feed of CAP documents.

County emergency management, regional coalitions and signage vendors read CAP feeds. The
channel publishes (``channel``), the document is built in ``document``, the feeds and the
documents are served by ``crisiscast serve`` (``routes``), from the audit store.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.cap_feed.config import CapConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, RouteDeps, RouteHooks

if TYPE_CHECKING:
    from aiohttp import web

    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "cap_feed"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.cap_feed.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.cap_feed.preview import preview_cap

    return preview_cap(message, settings, SPEC.config(settings))


def _path_identity(path: str | None) -> str | None:
    return (path.strip().rstrip("/").lower() or None) if path else None


def _targets(config: CapConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "CAP feed",
            "exercise_feed_path",
            config.feed_path,
            config.exercise_feed_path,
            _path_identity(config.feed_path),
            _path_identity(config.exercise_feed_path),
        )
    ]


def _routes(app: web.Application, deps: RouteDeps) -> RouteHooks:
    from crisiscast.channels.cap_feed.routes import add_cap_routes

    return add_cap_routes(app, deps)


SPEC: ChannelSpec[CapConfig] = ChannelSpec(
    name=NAME,
    title="CAP feed",
    public=True,
    config_model=CapConfig,
    build=_build,
    preview=_preview,
    exercise_targets=_targets,
    routes=_routes,
)
