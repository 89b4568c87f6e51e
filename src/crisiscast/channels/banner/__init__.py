"""The website's emergency banner: a JSON state file (and an optional CMS PUT) and its feed.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
state file lives in ``channel``, the feed, script and sample page in ``routes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisiscast.channels.banner.config import BannerConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, RouteDeps, RouteHooks, lazy_build
from crisiscast.isolation import file_identity, url_identity

if TYPE_CHECKING:
    from aiohttp import web

    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "banner"


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.banner.adapt import adapt_banner
    from crisiscast.channels.preview import DocumentPreview

    return DocumentPreview(adapt_banner(message, settings.policy))


def _targets(config: BannerConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    out = [
        ExerciseTarget(
            "banner CMS URL",
            "exercise_cms_url",
            config.cms_url,
            config.exercise_cms_url,
            url_identity(config.cms_url),
            url_identity(config.exercise_cms_url),
        )
    ]
    if config.exercise_path:
        out.append(
            ExerciseTarget(
                "banner path",
                "exercise_path",
                config.path,
                config.exercise_path,
                file_identity(settings.resolve(config.path)),
                file_identity(settings.resolve(config.exercise_path)),
            )
        )
    return out


def _identity(channel: Any) -> tuple[str, str | None]:
    return file_identity(channel.path), url_identity(getattr(channel, "cms_url", None))


def _clash(exercise: Channel, production: Channel) -> str | None:
    """The same file (a symbolic link made after the configuration was loaded) or CMS URL."""
    ex_path, ex_cms = _identity(exercise)
    prod_path, prod_cms = _identity(production)
    if ex_path == prod_path:
        return f"the exercise banner file is the production one ({prod_path}); fix [channels.banner]"
    if ex_cms is not None and ex_cms == prod_cms:
        return "the exercise banner CMS URL is the production one; fix [channels.banner]"
    return None


def _sandbox_config(directory: Path) -> Mapping[str, object]:
    return {"path": str(directory / "banner.json"), "exercise_path": str(directory / "banner-exercise.json")}


def _routes(app: web.Application, deps: RouteDeps) -> RouteHooks:
    from crisiscast.channels.banner.routes import add_banner_routes

    return add_banner_routes(app, deps.settings)


SPEC: ChannelSpec[BannerConfig] = ChannelSpec(
    name=NAME,
    title="Website banner",
    public=True,
    config_model=BannerConfig,
    build=lazy_build("crisiscast.channels.banner.channel"),
    preview=_preview,
    exercise_targets=_targets,
    exercise_clash=_clash,
    sandbox_config=_sandbox_config,
    routes=_routes,
)
