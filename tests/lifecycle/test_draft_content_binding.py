"""Approvals are bound to the exact words of the draft they approve (real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.lifecycle.drafts import approve_draft, check_sendable, create_draft, message_sha256
from crisiscast.message import CrisisMessage, Status
from crisiscast.templates import TemplateCatalog

POLICY = PolicyConfig()
CATALOG = TemplateCatalog()
FIRE = CrisisMessage(status=Status.ACTUAL, headline="Fire in Building B, floor 2", event="Fire")


async def test_approval_names_the_content_and_other_content_does_not_count(tmp_path: Path) -> None:
    """Every approval records the SHA-256 of the message it approved; an approval recorded for
    other words (say, an earlier version of the draft) does not count towards sending this one."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        draft_id = await create_draft(store, FIRE, author="alice", source="file")
        stale = {"approver": "bob", "method": "cli", "message_sha256": "0" * 64}
        await store.append([AuditEvent(EventKind.APPROVAL_RECORDED, draft_id, stale)])
        with pytest.raises(PolicyError, match="needs 1 more approval"):
            await check_sendable(store, draft_id, "alice", POLICY, CATALOG)

        await approve_draft(store, draft_id, "carol", POLICY, CATALOG)
        draft, _, verdict = await check_sendable(store, draft_id, "alice", POLICY, CATALOG)
        assert verdict.approvers == ("carol",) and draft.message == FIRE
        recorded = [e.event.data async for e in store.events(draft_id)]
        assert recorded[-1]["approver"] == "carol"
        assert recorded[-1]["message_sha256"] == message_sha256(FIRE)
    finally:
        await store.close()


async def test_a_rewritten_draft_is_never_what_is_sent(tmp_path: Path) -> None:
    """A second draft_created on an approved draft's id changes nothing: the words sent are the
    ones approved."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        draft_id = await create_draft(store, FIRE, author="alice", source="file")
        await approve_draft(store, draft_id, "bob", POLICY, CATALOG)
        other = FIRE.model_copy(update={"headline": "Evacuate the whole campus now"})
        await create_draft(store, other, author="mallory", source="file", draft_id=draft_id)
        draft, _, verdict = await check_sendable(store, draft_id, "alice", POLICY, CATALOG)
        assert draft.message == FIRE and draft.author == "alice" and verdict.approvers == ("bob",)
    finally:
        await store.close()
