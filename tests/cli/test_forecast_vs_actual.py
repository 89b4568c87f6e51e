"""After sending: the forecast recorded with the plan beside the actual time to the last delivery,
in the send report (text and --json), in the audit (``dispatch_planned``) and in the after-action report."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


async def test_send_json_puts_the_forecast_beside_the_actual_per_channel(cli: Cli) -> None:
    """Every channel that delivered has a row: forecast and actual seconds, the error, one sentence;
    the same forecast is in the audit's dispatch_planned event."""
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    report = json.loads(sent.stdout)
    delivered = {name for name, c in report["channels"].items() if c["delivered"]}
    rows = {row["channel"]: row for row in report["forecast_vs_actual"]}
    assert set(rows) == delivered
    sms = rows["sms"]
    assert sms["forecast_s"] > 0 and sms["actual_s"] > 0
    # times are rounded to the millisecond, the error to 0.1 %
    assert sms["error"] == pytest.approx((sms["forecast_s"] - sms["actual_s"]) / sms["actual_s"], rel=0.05)
    assert sms["sentence"].startswith("sms: last delivery forecast ")

    shown = await cli.run("audit", "show", report["dispatch_id"], "--json")
    assert shown.code == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    planned = next(e for e in events if e["kind"] == "dispatch_planned")
    forecast = planned["data"]["forecast"]
    assert forecast["start_s"] > 0
    assert forecast["channels"]["sms"]["deliveries"] == report["channels"]["sms"]["planned"]
    assert forecast["channels"]["sms"]["max_s"] == pytest.approx(sms["forecast_s"], abs=0.001)


async def test_send_text_report_and_after_action_report_show_forecast_vs_actual(cli: Cli) -> None:
    """The text report has a "Forecast vs actual (time to last delivery)" line per channel; the
    after-action report's HTML has the section with the SMS row."""
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes")
    assert sent.code == 0, sent.stderr
    assert "Forecast vs actual (time to last delivery):" in sent.stdout
    assert "sms: last delivery forecast" in sent.stdout
    listed = json.loads((await cli.run("audit", "list", "--json")).stdout)
    dispatch_id = listed[0]["dispatch_id"]
    out = cli.tmp_path / "reports"
    made = await cli.run("report", dispatch_id, "--out-dir", str(out))
    assert made.code == 0, made.stderr
    html = (out / f"report-{dispatch_id}.html").read_text(encoding="utf-8")
    section = html.split("Forecast vs actual (time to last delivery, from the plan)", 1)[1]
    assert "<td>sms</td>" in section.split("</table>", 1)[0]
