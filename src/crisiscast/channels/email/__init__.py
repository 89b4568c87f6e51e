"""E-mail to staff over SMTP: one message per recipient, from the contacts' ``email`` column.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
SMTP transaction and its error map live in ``smtp``, the message in ``channel``, the words in
``adapt``, the preview in ``preview``. The sandbox's SMTP server is
``crisiscast.sandbox.smtp``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.channels.email.config import EmailConfig
from crisiscast.channels.spec import ChannelSpec, FakeRole, FollowUpPlan

if TYPE_CHECKING:
    from crisiscast.audit.base import DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["NAME", "SPEC"]

NAME = "email"


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
    from crisiscast.channels.email.channel import build

    return build(settings, secrets, exercise=exercise)


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.email.preview import preview_email

    return preview_email(message, settings, SPEC.config(settings))


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    """Only the addresses the original reached, each threaded under the last message it got."""
    targets = frozenset(r.delivery.target for r in lineage[0]) if lineage else frozenset()
    last: dict[str, str] = {}
    for step in lineage:
        for record in step:
            if record.delivery.target in targets and record.provider_id:
                last[record.delivery.target] = record.provider_id
    return FollowUpPlan(
        reply_to_target=last,
        only_targets=targets,
        note=f"E-mail only to the {len(targets)} addresses the original reached, as a reply to it",
    )


def _sandbox_config(directory: Path) -> Mapping[str, object]:
    return {"contacts": str(directory / "contacts.csv")}


SPEC: ChannelSpec[EmailConfig] = ChannelSpec(
    name=NAME,
    title="E-mail",
    public=False,
    config_model=EmailConfig,
    build=_build,
    preview=_preview,
    secret_names=("email_password", "email_oauth_token"),
    audience_isolated=True,
    follow_up=_follow_up,
    fakes=(FakeRole("smtp", "crisiscast.sandbox.smtp:FakeSmtp", "smtp_url", title="SMTP server"),),
    sandbox_config=_sandbox_config,
)
