"""Banner and signage follow crisiscast's order of issue, never a sender's clock: an alert
claiming a `sent` hours ahead cannot freeze the banner or swallow the all-clear."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiscast.channels.banner.channel import build as build_banner
from crisiscast.channels.base import RenderContext
from crisiscast.channels.mqtt.channel import build as build_mqtt
from crisiscast.config import Secrets, Settings
from crisiscast.message import CrisisMessage, MsgType, Status
from tests.mqtt_cleanup import clear_prefix

NOW = datetime.now(UTC)


def _alert_from_the_future() -> CrisisMessage:
    return CrisisMessage(
        status=Status.ACTUAL,
        headline="Fire in Building B",
        sent=NOW + timedelta(hours=2),
        expires=NOW + timedelta(hours=3),
    )


def _all_clear(alert: CrisisMessage) -> CrisisMessage:
    return CrisisMessage(
        status=Status.ACTUAL,
        msg_type=MsgType.CANCEL,
        references=(f"{alert.sender},{alert.identifier},{alert.sent.isoformat()}",),
        headline="All clear: Building B",
    )


async def test_the_all_clear_clears_the_banner_after_an_alert_from_the_future(tmp_path: Path) -> None:
    """The cancel is issued after the alert by crisiscast's clock, so it replaces it."""
    settings = Settings.model_validate({"base_dir": str(tmp_path)})
    channel = build_banner(settings, Secrets(), exercise=False)
    alert = _alert_from_the_future()
    [shown] = channel.render(alert, RenderContext(dispatch_id="d1", now=NOW))
    later = RenderContext(dispatch_id="d2", now=NOW + timedelta(seconds=5))
    [cleared] = channel.render(_all_clear(alert), later)
    assert (await channel.send(shown, None)).status != "superseded"
    receipt = await channel.send(cleared, None)
    assert receipt.status != "superseded"
    assert json.loads(channel.path.read_text())["status"] == "cleared"
    await channel.aclose()


async def test_the_all_clear_clears_signage_after_an_alert_from_the_future(mqtt_url: str) -> None:
    """The same on the broker: the retained alert is removed by the all-clear."""
    prefix = f"crisiscast-test/clock/{uuid.uuid4().hex}"
    settings = Settings.model_validate({"channels": {"mqtt": {"url": mqtt_url, "topic_prefix": prefix}}})
    channel = build_mqtt(settings, Secrets(), exercise=False)
    alert = _alert_from_the_future()
    try:
        [shown] = channel.render(alert, RenderContext(dispatch_id="d1", now=NOW))
        [cleared] = channel.render(
            _all_clear(alert), RenderContext(dispatch_id="d2", now=NOW + timedelta(seconds=5))
        )
        assert (await channel.send(shown, None)).status == "published"
        assert (await channel.send(cleared, None)).status == "cleared"
    finally:
        await channel.aclose()
        await clear_prefix(mqtt_url, prefix)
