"""Alert → Update → Cancel with all-clear, end to end through the console script.

Every fake is checked for what it received: X replies in the original thread, a new
Facebook post referring to the original, SMS only to the numbers the original reached,
the banner file replaced then cleared, and the MQTT retained message (read back by a new
subscriber on the real Mosquitto) replaced then removed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crisiscast.audit.base import DeliveryRecord
from crisiscast.delivery import DeliveryState
from tests.lifecycle.conftest import CONTACTS, STAFF, Team, read_retained
from tests.mqtt_cleanup import clear_prefix

pytestmark = pytest.mark.asyncio

NEW_STAFF = "+16175550103"


def _tip(records: list[DeliveryRecord]) -> str:
    """The last delivered post of the first X thread of a dispatch."""
    posts = [r for r in records if r.delivery.channel == "twitter" and r.state is DeliveryState.DELIVERED]
    first = [r for r in posts if r.delivery.target == posts[0].delivery.target]
    last = max(first, key=lambda r: r.delivery.part).provider_id
    assert last is not None
    return last


def _first_post(records: list[DeliveryRecord]) -> dict[str, Any]:
    part = next(r for r in records if r.delivery.channel == "twitter" and r.delivery.part == 1)
    return {"id": part.provider_id, "payload": dict(part.delivery.payload)}


def _texted(team: Team, since: int) -> list[str]:
    return sorted(m["to"] for m in team.texts()[since:])


async def test_alert_update_cancel_reach_every_channel_as_the_original(
    team: Team, mqtt_url: str, mqtt_prefix: str
) -> None:
    """The Update and the all-clear go exactly where the alert arrived, and the all-clear clears state."""
    topic = f"{mqtt_prefix}/alert/current"
    team.write_config(mqtt={"enabled": True, "url": mqtt_url, "topic_prefix": mqtt_prefix})
    try:
        await _scenario(team, mqtt_url, topic)
    finally:
        await clear_prefix(mqtt_url, mqtt_prefix)


async def _scenario(team: Team, mqtt_url: str, topic: str) -> None:
    alert = await team.run_as(
        "alice",
        "send",
        "--template",
        "facility-fire",
        "--var",
        "location=Building A, floor 3",
        "--yes",
        "--json",
    )
    assert alert.code == 3, alert.stderr  # one staff member opted out of texts
    d1 = json.loads(alert.stdout)["dispatch_id"]
    original = await team.deliveries(d1)
    reached = sorted(
        r.delivery.target for r in original if r.delivery.channel == "sms" and r.state == "delivered"
    )
    assert reached == list(STAFF[:2])
    x_before, fb_before, sms_before = len(team.posts("x")), len(team.posts("graph")), len(team.texts())
    # someone joins the staff group after the alert: the follow-ups must not text them
    team.contacts.write_text(CONTACTS + f"Pat New,{NEW_STAFF},staff,en\n", encoding="utf-8")

    update = await team.run_as(
        "bob",
        *("update", d1, "--template", "facility-fire"),
        *("--var", "location=Building A, floor 3", "--var", "details=The fire is contained"),
        *("--yes", "--json"),
    )
    assert update.code == 0, update.stderr
    d2 = json.loads(update.stdout)["dispatch_id"]
    updated = await team.deliveries(d2)
    first = _first_post(updated)
    x_posts = {p["id"]: p for p in team.posts("x")}
    assert x_posts[first["id"]]["in_reply_to_tweet_id"] == _tip(original)
    fb_posts = team.posts("graph")
    assert len(fb_posts) == fb_before + 1
    fb_original = next(r.provider_id for r in original if r.delivery.channel == "facebook")
    fb_update = next(r for r in updated if r.delivery.channel == "facebook")
    assert fb_update.provider_id == fb_posts[-1]["id"] != fb_original
    assert fb_update.delivery.payload["refers_to"] == fb_original
    assert _texted(team, sms_before) == reached
    banner = json.loads((team.tmp_path / "banner.json").read_text(encoding="utf-8"))
    assert (banner["status"], banner["msg_type"]) == ("active", "Update")
    assert "The fire is contained" in banner["description"] and banner["references"]
    [retained] = await read_retained(mqtt_url, topic)
    assert json.loads(bytes(retained.payload))["msg_type"] == "Update"

    sms_before = len(team.texts())
    cancel = await team.run_as("carol", "cancel", d1, "--yes", "--json")
    assert cancel.code == 0, cancel.stderr
    result = json.loads(cancel.stdout)
    d3 = result["dispatch_id"]
    assert result["stopped"]["dispatch_id"] == d1 and result["stopped"]["delivered"] == len(original) - 1
    cleared = await team.deliveries(d3)
    assert {p["id"]: p for p in team.posts("x")}[_first_post(cleared)["id"]]["in_reply_to_tweet_id"] == _tip(
        updated
    )
    assert all(p["text"].startswith("All clear") for p in team.posts("x")[len(x_posts) :][:1])
    assert len(team.posts("graph")) == fb_before + 2
    assert _texted(team, sms_before) == reached
    assert all(m["body"].startswith(("All clear", "Fin de la alerta")) for m in team.texts()[sms_before:])
    banner = json.loads((team.tmp_path / "banner.json").read_text(encoding="utf-8"))
    assert (banner["status"], banner["msg_type"]) == ("cleared", "Cancel")
    assert await read_retained(mqtt_url, topic) == []
    assert len(team.posts("x")) > x_before and team.posts("x_exercise") == []

    late = await team.run_as(
        "bob", "update", d1, "--template", "facility-fire", "--var", "location=Building B"
    )
    assert late.code == 2
    assert late.stderr.strip() == (
        f"The all-clear of {d1} was already sent as {d3}; send a new alert instead of following up on it."
    )
