"""Turning an approved draft into a dispatch: the approval record and the follow-up targets.

``prepare_outgoing`` is shared by the CLI and the HTTP API, so both record the same approval
(who wrote it, who approved it, who sent it, under which rule) and plan follow-ups the same
way. ``claim_send`` makes sending a draft happen once, even when two people press send at
the same moment from two machines (the store binds ``send:<draft id>`` once).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crisiscast.audit.base import AuditStore
from crisiscast.errors import UserError
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.lifecycle.approval import Rule, Verdict
from crisiscast.lifecycle.drafts import Draft, message_sha256
from crisiscast.lifecycle.followup import follow_up_target, lineage_reach
from crisiscast.lifecycle.identity import acting_fields
from crisiscast.message import CrisisMessage

__all__ = ["METHODS", "Outgoing", "claim_send", "prepare_outgoing"]

METHODS = {
    "template": "pre_approved_template",
    "actual_free_text": "two_person_rule",
    "exercise_free_text": "exercise_policy",
}


@dataclass(slots=True)
class Outgoing:
    """Everything ``Dispatcher.plan`` needs to send one approved draft."""

    dispatch_id: str
    message: CrisisMessage
    approval: JsonObject
    reply_to: dict[str, str] = field(default_factory=dict)
    only_targets: dict[str, frozenset[str]] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def prepare_outgoing(
    store: AuditStore,
    draft: Draft,
    rule: Rule,
    verdict: Verdict,
    *,
    sender: str,
    confirmed_with: str,
    via: str,
    phi_override: str | None = None,
    extra: JsonMapping | None = None,
) -> Outgoing:
    """The approval record and, for a follow-up, its targets computed from the store now.

    Raises ``UserError`` when the alert a follow-up refers to already had its all-clear sent
    (only the all-clear itself may follow a cancel once).
    """
    approval: JsonObject = {
        "method": METHODS[rule.kind],
        "rule": rule.kind,
        "policy": rule.policy_text,
        "author": draft.author,
        "approvers": list(verdict.approvers),
        "approver": sender,
        "sent_by": sender,
        "confirmed": True,
        "confirmed_with": confirmed_with,
        "via": via,
        "draft_id": draft.draft_id,
        "message_sha256": message_sha256(draft.message),
        "source": draft.source,
        "host": socket.gethostname(),
        **acting_fields(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **dict(extra or {}),
    }
    if draft.message.template is not None:
        approval["template"] = draft.message.template.model_dump()
    if phi_override is not None:
        approval["phi_override"] = phi_override
    outgoing = Outgoing(dispatch_id=draft.draft_id, message=draft.message, approval=approval)
    follow = draft.follow_up
    if follow:
        reach = await lineage_reach(store, str(follow["of"]))
        if reach.all_clear_id is not None:
            raise UserError(
                f"The all-clear of {reach.root.dispatch_id} was already sent as {reach.all_clear_id}; "
                f"draft {draft.draft_id} was not sent."
            )
        target = follow_up_target(reach, str(follow["kind"]), str(follow["of"]))
        approval["follow_up"] = dict(target.follow_up)
        outgoing.reply_to = dict(target.reply_to)
        outgoing.only_targets = dict(target.only_targets)
        outgoing.skipped = list(target.skipped)
    return outgoing


async def claim_send(store: AuditStore, draft_id: str) -> None:
    """Bind ``send:<draft_id>`` once; ``UserError`` when the draft is already being sent."""
    _, created = await store.bind_key(f"send:{draft_id}", draft_id)
    if not created:
        raise UserError(
            f"Draft {draft_id} is already being sent (or was); "
            f"check it with crisiscast audit show {draft_id}."
        )
