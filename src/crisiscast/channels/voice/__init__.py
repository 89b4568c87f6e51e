"""Voice calls to staff through Twilio: one call per number of the message's audiences.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``): the
Calls API protocol lives in ``channel`` (errors in ``errors``), the spoken script in
``adapt`` and ``speech``, the TwiML in ``twiml``, the preview in ``preview``, and Twilio's
status, key-press and answering-machine callbacks in ``routes``.

The sandbox fake is ``crisiscast.sandbox.twilio.FakeTwilio`` — the same class as the SMS
fake, run as its own role (``twilio-voice``, its own port), so the two channels' requests
and state stay apart while sharing the sandbox auth token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.channels.spec import ChannelSpec, FakeRole, FollowUpPlan, RouteDeps, RouteHooks
from crisiscast.channels.voice.config import VoiceConfig

if TYPE_CHECKING:
    from aiohttp import web

    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "voice"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.voice.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.voice.preview import preview_voice

    return preview_voice(message, settings, SPEC.config(settings))


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """Only the numbers the original call reached, whatever the audiences say now."""
    targets = frozenset(r.delivery.target for r in lineage[0]) if lineage else frozenset()
    return FollowUpPlan(
        only_targets=targets, note=f"Voice: calls only to the {len(targets)} numbers the original reached"
    )


def _sandbox_config(directory: Path) -> Mapping[str, object]:
    return {"contacts": str(directory / "contacts.csv")}


def _routes(app: web.Application, deps: RouteDeps) -> RouteHooks:
    from crisiscast.channels.voice.routes import add_voice_routes

    add_voice_routes(app, deps)
    return RouteHooks()


SPEC: ChannelSpec[VoiceConfig] = ChannelSpec(
    name=NAME,
    title="Voice call",
    public=False,
    config_model=VoiceConfig,
    build=_build,
    preview=_preview,
    secret_names=("twilio_auth_token",),
    audience_isolated=True,
    follow_up=_follow_up,
    escalation=("call",),
    fakes=(
        FakeRole(
            "twilio-voice", "crisiscast.sandbox.twilio:FakeTwilio", "api_base_url", title="Twilio Voice API"
        ),
    ),
    sandbox_config=_sandbox_config,
    routes=_routes,
)
