"""Drafts: a message stored in the audit, approved by people, then sent under the same id.

Everything is an audit event on the draft's id, so ``crisiscast audit show ID`` tells the whole
story: ``draft_created`` (message, author, source, what it follows up), ``approval_recorded``
per approver, ``approval_refused`` for every refused approval or send, then the plan, the
deliveries and the report of the dispatch that sent it (the dispatch id IS the draft id).

A draft's words are those of its first ``draft_created`` (a later one on the same id is
ignored). Its approvals are the ``approval_recorded`` events before its plan that name the
SHA-256 of exactly those words (``message_sha256``): an approval of other content never
counts. Whether a draft may
be sent is decided by ``crisiscast.lifecycle.approval`` from the message, the author, the
approvers and whether its template was verified against the installed catalog (same id,
version and content hash; only drafts made from a template or by a signed webhook qualify).

Failure modes: an unknown id, a draft already sent or cancelled, an expired message, a
refused approval or send → ``PolicyError``/``UserError`` with one sentence (refusals are
recorded first).
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.config import PolicyConfig
from crisiscast.dispatch import new_dispatch_id
from crisiscast.errors import PolicyError, UserError
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.lifecycle.approval import Rule, Verdict, refusal_reason, rule_for, verdict
from crisiscast.lifecycle.identity import acting_fields, same_person
from crisiscast.message import CrisisMessage
from crisiscast.templates import TemplateCatalog

__all__ = [
    "Draft",
    "approve_draft",
    "check_sendable",
    "create_draft",
    "load_draft",
    "message_sha256",
    "now_iso",
    "record_refusal",
    "rule_of",
    "template_verified",
]

TEMPLATE_SOURCES = ("template", "webhook")


@dataclass(slots=True)
class Draft:
    """A draft as the audit knows it."""

    draft_id: str
    state: str  # the dispatch state: draft, planned, finished, cancelled
    message: CrisisMessage
    author: str
    source: str  # file, template, webhook, api
    created_at: datetime
    follow_up: JsonObject | None = None  # {"kind": "update"|"cancel", "of": id, "root": id}
    approvers: list[str] = field(default_factory=list)


def message_sha256(message: CrisisMessage) -> str:
    """SHA-256 (hex) of the message's canonical JSON: what an approval approves."""
    # a message without a poll hashes as before polls existed, so older approvals still match
    data = message.model_dump(mode="json", exclude={"poll"} if message.poll is None else None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def now_iso() -> str:
    """The ``at`` of a recorded act (draft, approval, refusal): the UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


async def create_draft(
    store: AuditStore,
    message: CrisisMessage,
    *,
    author: str,
    source: str,
    follow_up: JsonMapping | None = None,
    draft_id: str | None = None,
) -> str:
    """Store ``message`` as a draft (``draft_created``); returns its id."""
    draft_id = draft_id or new_dispatch_id()
    data: JsonObject = {
        "message": message.model_dump(mode="json"),
        "author": author,
        "source": source,
        "host": socket.gethostname(),
        **acting_fields(),
        "at": now_iso(),
    }
    if follow_up is not None:
        data["follow_up"] = dict(follow_up)
    await store.append([AuditEvent(EventKind.DRAFT_CREATED, draft_id, data)])
    return draft_id


async def load_draft(store: AuditStore, draft_id: str) -> Draft:
    """The draft ``draft_id`` from its events; ``UserError`` when there is no such draft."""
    record = await store.dispatch(draft_id)
    if record is None:
        raise UserError(
            f"There is no draft {draft_id[:80]} in the audit store; check the id with audit list."
        )
    created: JsonMapping | None = None
    message: CrisisMessage | None = None
    digest = ""
    created_at = record.created_at
    approvers: list[str] = []
    async for stored in store.events(draft_id):
        ev = stored.event
        if ev.kind is EventKind.DRAFT_CREATED and created is None:
            created, created_at = ev.data, ev.at
            message = CrisisMessage.model_validate(created["message"])
            digest = message_sha256(message)
        elif (
            ev.kind is EventKind.APPROVAL_RECORDED
            and created is not None
            and "approver" in ev.data
            and ev.data.get("message_sha256") == digest
        ):
            approvers.append(str(ev.data["approver"]))
        elif ev.kind is EventKind.DISPATCH_PLANNED:
            break
    if created is None or message is None:
        raise UserError(
            f"{draft_id} is a dispatch that was sent directly, not a draft; there is nothing to approve."
        )
    follow_up = created.get("follow_up")
    return Draft(
        draft_id=draft_id,
        state=record.state,
        message=message,
        author=str(created.get("author") or "unknown"),
        source=str(created.get("source") or "file"),
        created_at=created_at,
        follow_up=dict(follow_up) if isinstance(follow_up, Mapping) else None,
        approvers=approvers,
    )


def template_verified(message: CrisisMessage, source: str, catalog: TemplateCatalog) -> bool:
    """True when the message came from a template that is installed, unchanged, right now."""
    ref = message.template
    if ref is None or source not in TEMPLATE_SOURCES or ref.id not in catalog:
        return False
    template = catalog.get(ref.id)
    return (
        template.status == "approved"
        and template.version == ref.version
        and template.content_hash == ref.content_hash
    )


def rule_of(draft: Draft, policy: PolicyConfig, catalog: TemplateCatalog) -> Rule:
    return rule_for(
        draft.message,
        policy,
        author=draft.author,
        from_template=template_verified(draft.message, draft.source, catalog),
    )


def _require_draft_state(draft: Draft, doing: str) -> None:
    if draft.state == "draft":
        return
    if draft.state == "cancelled":
        raise UserError(f"Draft {draft.draft_id} was cancelled; nothing to {doing}.")
    raise UserError(f"Draft {draft.draft_id} was already sent (it is {draft.state}); nothing to {doing}.")


async def record_refusal(store: AuditStore, draft_id: str, who: str, action: str, reason: str) -> None:
    """Append ``approval_refused`` (who tried what, and why it was refused)."""
    data = {
        "who": who,
        "action": action,
        "reason": reason,
        "host": socket.gethostname(),
        **acting_fields(),
        "at": now_iso(),
    }
    await store.append([AuditEvent(EventKind.APPROVAL_REFUSED, draft_id, data)])


async def approve_draft(
    store: AuditStore,
    draft_id: str,
    approver: str,
    policy: PolicyConfig,
    catalog: TemplateCatalog,
    *,
    via: str = "cli",
    extra: JsonMapping | None = None,
) -> Verdict:
    """Record ``approver``'s approval and return what is still missing.

    A refused approval (their own Actual message, not on the approvers list) is recorded
    as ``approval_refused`` and raised as ``PolicyError``. Approving twice records nothing.
    """
    draft = await load_draft(store, draft_id)
    _require_draft_state(draft, "approve")
    reason = refusal_reason(draft_id, draft.author, approver, draft.message, policy)
    if reason is not None:
        await record_refusal(store, draft_id, approver, "approve", reason)
        raise PolicyError(reason)
    rule = rule_of(draft, policy, catalog)
    if any(same_person(approver, a) for a in draft.approvers):
        return replace(verdict(draft_id, draft.author, draft.approvers, rule, policy), already_approved=True)
    data: JsonObject = {
        "approver": approver,
        "method": via,
        "rule": rule.kind,
        "host": socket.gethostname(),
        **acting_fields(),
        "at": now_iso(),
        **dict(extra or {}),
        "message_sha256": message_sha256(draft.message),
    }
    await store.append([AuditEvent(EventKind.APPROVAL_RECORDED, draft_id, data)])
    return verdict(draft_id, draft.author, [*draft.approvers, approver], rule, policy)


async def check_sendable(
    store: AuditStore, draft_id: str, sender: str, policy: PolicyConfig, catalog: TemplateCatalog
) -> tuple[Draft, Rule, Verdict]:
    """The draft, its rule and verdict when it may be sent now; else record and raise.

    Refuses (``approval_refused`` recorded, ``PolicyError`` raised) a draft whose approvals do
    not meet the policy, saying exactly what is missing, and an expired message.
    """
    draft = await load_draft(store, draft_id)
    _require_draft_state(draft, "send")
    if draft.message.is_expired():
        expires = draft.message.expires.isoformat(timespec="minutes") if draft.message.expires else "?"
        reason = (
            f"Draft {draft_id} expired at {expires}; nothing was sent. Draft it again with a later expiry."
        )
        await record_refusal(store, draft_id, sender, "send", reason)
        raise PolicyError(reason)
    rule = rule_of(draft, policy, catalog)
    result = verdict(draft_id, draft.author, draft.approvers, rule, policy)
    if not result.ok:
        await record_refusal(store, draft_id, sender, "send", result.sentence)
        raise PolicyError(result.sentence)
    return draft, rule, result
