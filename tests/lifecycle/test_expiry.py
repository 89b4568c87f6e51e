"""Expiry on the sending side: an expired draft is never sent, and a dispatch of a message that
expired before its turn sends nothing to the banner or signage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.banner.channel import BannerChannel
from crisiscast.config import PolicyConfig
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.errors import PolicyError
from crisiscast.lifecycle.drafts import check_sendable, create_draft
from crisiscast.message import CrisisMessage, Status
from crisiscast.templates import TemplateCatalog

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def store() -> AsyncIterator[AuditStore]:
    s = open_store("sqlite:///:memory:")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _expired() -> CrisisMessage:
    now = datetime.now(UTC)
    return CrisisMessage(
        status=Status.EXERCISE,
        headline="Drill in Building A",
        sent=now - timedelta(hours=2),
        expires=now - timedelta(minutes=1),
    )


async def test_an_expired_draft_is_refused_and_the_refusal_recorded(store: AuditStore) -> None:
    """``send`` of a draft whose message expired sends nothing and says so in one sentence."""
    draft_id = await create_draft(store, _expired(), author="alice", source="file")
    with pytest.raises(PolicyError, match=f"^Draft {draft_id} expired at .*; nothing was sent"):
        await check_sendable(store, draft_id, "alice", PolicyConfig(), TemplateCatalog())
    kinds = [e.event.kind async for e in store.events(draft_id)]
    assert kinds == [EventKind.DRAFT_CREATED, EventKind.APPROVAL_REFUSED]


async def test_an_expired_message_never_reaches_the_banner(store: AuditStore, tmp_path: Path) -> None:
    """The dispatcher fails an expired message's banner delivery as expired; the file is not written."""
    banner = tmp_path / "banner.json"
    channel = BannerChannel(banner, PolicyConfig(), exercise=True)
    report = await Dispatcher(store).dispatch(_expired(), [channel], approval={"method": "test"})
    (record,) = await store.deliveries(report.dispatch_id)
    assert (record.state, record.last_code, record.attempts) == (DeliveryState.FAILED, "expired", 0)
    assert not banner.exists()
