"""Forged receipt keys record nothing; a CSV export never hands a spreadsheet a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from twilio.request_validator import RequestValidator

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.export import export_csv, verify_export
from crisiscast.audit.sqlite import SqliteStore
from tests.server.helpers import FIRE, TWILIO_TOKEN, Harness, sms_sid, start_harness, stop_harness

PUBLIC = "https://crisiscast.example.org"


async def _callback(h: Harness, key: str, sid: str) -> tuple[int, str]:
    path = f"/v1/twilio/status?key={key.replace('+', '%2B')}"
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, params)
    resp = await h.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return resp.status, await resp.text()


async def _receipts(h: Harness) -> list[AuditEvent]:
    return [e.event async for e in h.store.events() if e.event.kind is EventKind.RECEIPT_STATUS]


async def test_a_signed_receipt_is_recorded_only_for_the_delivery_whose_sid_matches(tmp_path: Path) -> None:
    """A callback whose key names no delivery, or a delivery sent as another MessageSid, records
    nothing (200, recorded false); the key with its own SID is recorded (204)."""
    h = await start_harness(tmp_path)
    try:
        status, body = await h.post_alert(FIRE, "receipts-1")
        assert status == 202
        dispatch_id = body["dispatch_id"]
        await h.ctx.runner.wait(dispatch_id)
        key = f"{dispatch_id}:sms:+15550100002:0"
        other = f"{dispatch_id}:sms:+15550100001:0"
        assert await _callback(h, f"{dispatch_id}:sms:+15559999999:0", sms_sid(key)) == (
            200,
            '{"recorded": false, "reason": "no delivery has this MessageSid"}',
        )
        assert (await _callback(h, "d-forged:sms:+15550100002:0", sms_sid(key)))[0] == 200
        assert (await _callback(h, key, sms_sid(other)))[0] == 200
        assert await _receipts(h) == []
        assert (await _callback(h, key, sms_sid(key)))[0] == 204
        recorded = await _receipts(h)
    finally:
        await stop_harness(h)
    assert [(e.delivery_key, e.data["provider_id"]) for e in recorded] == [(key, sms_sid(key))]


async def test_csv_export_neutralises_formula_cells_and_still_verifies(tmp_path: Path) -> None:
    """Cells starting with = + - @, a tab, a CR or ' are written with a leading ' so a spreadsheet
    shows them as text; the exported file still verifies."""
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    hostile = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=x"]
    try:
        await store.append(
            [
                AuditEvent(EventKind.DRAFT_CREATED, dispatch_id, {"message": {"headline": "h"}})
                for dispatch_id in hostile
            ]
        )
        out = io.StringIO()
        assert await export_csv(store, None, out) == len(hostile)
    finally:
        await store.close()
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1:]
    assert [row[3] for row in rows] == ["'" + d for d in hostile]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    result = verify_export(path)
    assert result.ok, result.problem
    assert result.events_checked == len(hostile)
