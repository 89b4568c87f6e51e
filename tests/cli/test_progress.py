"""Progress while sending: plain lines when not a terminal, counts from the dispatcher's callback."""

from __future__ import annotations

import io

from rich.console import Console

from crisiscast.cli.dispatching import progress_adapter
from crisiscast.cli.progress import LiveProgress, print_report
from crisiscast.delivery import ChannelReport, DeliveryState, DispatchReport, Failure


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False, color_system=None), out


def test_plain_lines_per_tenth_not_per_recipient() -> None:
    """Off a terminal, 100 SMS give a start line and at most one line per tenth, then finished."""
    console, out = _console()
    with LiveProgress(console) as view:
        view.planned("sms", 100)
        callback = progress_adapter(view)
        for i in range(100):
            callback("sms", f"d:sms:{i}:0", DeliveryState.IN_DOUBT)
            callback("sms", f"d:sms:{i}:0", DeliveryState.DELIVERED if i % 10 else DeliveryState.FAILED)
    lines = out.getvalue().splitlines()
    assert lines[0] == "sms: sending 100"
    assert len(lines) == 11
    assert lines[-1] == "sms: 90/100 delivered, 10 failed, finished"
    counts = view.counts["sms"]
    assert (counts.delivered, counts.failed, counts.in_progress) == (90, 10, 0)


def test_retry_is_counted_and_in_progress_is_what_is_left() -> None:
    """A pending after an attempt counts a retry; in progress is planned minus settled."""
    console, _ = _console()
    view = LiveProgress(console, live=False)
    view.planned("twitter", 3)
    callback = progress_adapter(view)
    callback("twitter", "k1", DeliveryState.IN_DOUBT)
    callback("twitter", "k1", DeliveryState.PENDING)
    callback("twitter", "k2", DeliveryState.DELIVERED)
    counts = view.counts["twitter"]
    assert (counts.retries, counts.delivered, counts.in_progress) == (1, 1, 2)


def test_report_names_each_failure_and_skipped_channel() -> None:
    """The final report lists failures with code and reason, and skipped channels with why."""
    console, out = _console()
    report = DispatchReport(
        dispatch_id="d-1",
        channels={
            "sms": ChannelReport(
                channel="sms",
                planned=2,
                delivered=1,
                failed=[
                    Failure(
                        key="d-1:sms:+16175550199:0", target="+16175550199", code="21610", reason="opted out"
                    )
                ],
            ),
            "facebook": ChannelReport(channel="facebook", note="token missing"),
        },
    )
    print_report(console, report, skipped={"facebook": "token missing"})
    text = out.getvalue()
    assert "sms → +16175550199 [21610]: opted out" in text
    assert "SKIPPED" in text and "FAILED" in text
    assert "Some deliveries FAILED" in text
