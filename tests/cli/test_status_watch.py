"""``crisiscast status --watch``: what each refresh reads (``status_cmd.refreshed``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisiscast.cli.status_cmd import refreshed
from crisiscast.server.status_view import dispatch_status
from tests.server.helpers import PERSON_TOKEN, person_and_machine_harness

FIRE = {"template": "facility-fire", "variables": {"location": "Building A, floor 3"}, "send": True}


async def test_watch_rereads_a_cheap_document_and_only_counts_a_costly_one_until_it_is_over(
    tmp_path: Path,
) -> None:
    """While the whole document costs ≤ a tenth of the interval it is read again; when it costs
    more, only the state and the counts are refreshed (the recipient rows are marked as of the last
    full read); once the dispatch is over the whole document is read again."""
    async with person_and_machine_harness(tmp_path) as h:
        h.gate.clear()
        resp = await h.client.post(
            "/v1/drafts", json=FIRE, headers={"Authorization": f"Bearer {PERSON_TOKEN}"}
        )
        dispatch_id = str((await resp.json())["draft_id"])
        read = await dispatch_status(h.store, dispatch_id)
        assert read is not None and read["state"] == "dispatching"
        first: dict[str, Any] = dict(read)

        cheap, _ = await refreshed(h.store, dispatch_id, first, 0.0, 1.0)
        assert "rows_note" not in cheap
        assert [r["key"] for r in cheap["sms_receipts"]] == [r["key"] for r in first["sms_receipts"]]

        costly, cost_s = await refreshed(h.store, dispatch_id, first, 5.0, 1.0)
        assert cost_s == 5.0, "a counts-only refresh keeps the full document's cost"
        assert costly["state"] == "dispatching" and "rows_note" in costly
        assert costly["sms_receipts"] == first["sms_receipts"], "the rows are those of the last full read"
        assert costly["channels"]["sms"]["in_progress"] == 2

        h.gate.set()
        await h.ctx.runner.wait(dispatch_id)
        final, _ = await refreshed(h.store, dispatch_id, costly, 5.0, 1.0)
        assert final["state"] == "delivered" and "rows_note" not in final
        assert final == await dispatch_status(h.store, dispatch_id)
