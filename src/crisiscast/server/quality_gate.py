"""The quality gate on the HTTP API's and the console's send, the same rule as the CLI's.

An Actual free-text message that fails the gate (``crisiscast.preflight``) is sent only with
an override reason: without one, ``gate_send`` raises ``QualityRefused`` (one plain sentence
and the gate's findings; nothing is sent); with one, it returns what the approval record
keeps — ``quality_override`` and the ``quality_findings`` it overrode — in the same audit
write as the plan. A template or a drill goes without a reason (a template passed the gate
when it loaded; a drill's findings are shown). The check is the CLI's own
(``crisiscast.cli.preflight_view``, on the same preview, so the contacts' languages count too).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from crisiscast.jsontypes import JsonObject
from crisiscast.message import Status

if TYPE_CHECKING:
    from crisiscast.message import CrisisMessage
    from crisiscast.server.context import ServerContext

__all__ = ["QualityRefused", "gate_send", "override_from"]


class QualityRefused(Exception):
    """Sending refused by the quality gate: ``status``, one ``sentence``, the gate's ``findings``."""

    def __init__(self, status: int, sentence: str, findings: list[Any] | None = None) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.findings = list(findings or [])


def override_from(value: object, *, field: str) -> str | None:
    """The override reason given as ``field`` (a JSON field or a form field), or None when left out."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise QualityRefused(
            400, f'"{field}" must be the reason, in words, for sending despite the findings.'
        )
    if not value.strip():
        raise QualityRefused(400, f'"{field}" needs a reason, for example "no time to reword".')
    return value.strip()[:500]


async def gate_send(
    ctx: ServerContext, message: CrisisMessage, override: str | None, *, how: str
) -> JsonObject:
    """The approval record's additions; raises ``QualityRefused`` when the message may not go."""
    from crisiscast.cli.preflight_view import quality_approval, quality_refusal
    from crisiscast.cli.preview import build_preview

    if override is None and (message.status is not Status.ACTUAL or message.template is not None):
        return {}  # nothing to decide: spare the preview (a template update, a drill)
    preview = await asyncio.to_thread(build_preview, message, ctx.settings, secrets=ctx.secrets)
    refusal = quality_refusal(message, preview.quality, override, how=how)
    if refusal is not None:
        raise QualityRefused(422, refusal, list(preview.quality.get("findings", [])))
    return quality_approval(preview.quality, override)
