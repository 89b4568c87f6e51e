"""SMS to staff through Twilio: one text per recipient of the message's audiences.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
Twilio protocol lives in ``channel`` and ``twilio``, the adaptation in ``adapt``, segments in
``segments``, the delivery-receipt callback in ``routes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.spec import ChannelSpec, FakeRole, FollowUpPlan, RouteDeps, RouteHooks, lazy_build

if TYPE_CHECKING:
    from aiohttp import web

    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "sms"


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.sms.preview import preview_sms

    return preview_sms(message, settings, SPEC.config(settings))


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """Only the numbers the original actually reached, whatever the audiences say now."""
    targets = frozenset(r.delivery.target for r in lineage[0]) if lineage else frozenset()
    return FollowUpPlan(
        only_targets=targets, note=f"SMS only to the {len(targets)} numbers the original reached"
    )


def _sandbox_config(directory: Path) -> Mapping[str, object]:
    return {"contacts": str(directory / "contacts.csv")}


def _routes(app: web.Application, deps: RouteDeps) -> RouteHooks:
    from crisiscast.channels.sms.routes import add_twilio_routes

    index = add_twilio_routes(app, deps)
    return RouteHooks(on_delivered=index.poke)


SPEC: ChannelSpec[SmsConfig] = ChannelSpec(
    name=NAME,
    title="SMS",
    public=False,
    config_model=SmsConfig,
    build=lazy_build("crisiscast.channels.sms.channel"),
    preview=_preview,
    secret_names=("twilio_auth_token",),
    audience_isolated=True,
    follow_up=_follow_up,
    escalation=("resend_sms", "notify_supervisor"),
    fakes=(
        FakeRole(
            "twilio", "crisiscast.sandbox.twilio:FakeTwilio", "api_base_url", title="Twilio Messaging API"
        ),
    ),
    sandbox_config=_sandbox_config,
    routes=_routes,
    receipts=True,
)
