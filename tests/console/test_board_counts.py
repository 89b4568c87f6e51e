"""The board's counts and reasons, counted in the database (``board_of``)."""

from __future__ import annotations

from pathlib import Path

from crisiscast.audit.events import EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.console.views import board_of
from tests.audit.helpers import ev, plan


async def test_board_tells_retrying_from_waiting_and_shows_the_top_reasons(tmp_path: Path) -> None:
    """Pending after an attempt is "retrying", pending never tried is "waiting"; failed and
    retrying deliveries are grouped by reason (else code), most frequent first, five at most."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    try:
        events, sms = plan("d-board", 12)
        await store.append(events)
        await store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1) for d in sms[:3]])
        await store.append(
            [
                ev(EventKind.ATTEMPT_SUCCEEDED, sms[0], attempt=1, provider_id="SM0"),
                ev(
                    EventKind.ATTEMPT_FAILED, sms[1], attempt=1, error="transient", code="http_503", reason=""
                ),
                *(
                    ev(EventKind.DELIVERY_FAILED, d, code=f"c{i}", reason=reason)
                    for i, (d, reason) in enumerate(
                        zip(sms[3:11], ["opted out"] * 3 + ["landline"] * 2 + ["a", "b", "c"], strict=True)
                    )
                ),
            ]
        )
        board = await board_of(store, "d-board")
        assert board is not None and board.state == "dispatching" and not board.finished
        (channel,) = board.channels
        assert channel.counts == {
            "planned": 12,
            "delivered": 1,
            "retrying": 1,
            "in_doubt": 1,
            "failed": 8,
            "waiting": 1,
        }
        assert channel.reasons == [("opted out", 3), ("landline", 2), ("a", 1), ("b", 1), ("c", 1)]
        assert channel.percent == 8  # 1 of 12 delivered
        assert await board_of(store, "d-none") is None
    finally:
        await store.close()
