"""The channel contract, for every registered channel (and a channel added by a test alone).

Parametrised over ``SPECS``: each channel, built for a drill against its sandbox fake exactly
as the demo builds it, declares its limits as data, previews the message, delivers every
delivery it renders with a provider id, and never lets a secret reach a log, an error or a
receipt. The per-channel suites (``test_<name>.py``) add each provider's error map.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crisiscast.channels import registry
from crisiscast.channels.base import RenderContext
from crisiscast.channels.registry import build_channels
from crisiscast.channels.spec import ChannelSpec
from crisiscast.cli.demo_run import demo_settings
from crisiscast.config import Settings
from crisiscast.delivery import Receipt
from crisiscast.message import CrisisMessage, MessageText, Status
from crisiscast.sandbox.runner import start_sandbox
from tests.channels.contract import assert_delivers, assert_limits_declared, watch_for_leaks
from tests.mqtt_cleanup import clear_prefix
from tests.plugin.pager import SPEC as PAGER

SPECS = [*registry.SPECS, PAGER]


def _drill() -> CrisisMessage:
    return CrisisMessage(
        status=Status.EXERCISE,
        headline="Evacuation drill in Building A at 10:00",
        instruction="Drill team to assembly point 2 by 10:05.",
        web="https://www.example-hospital.org/drills",
        translations={"es": MessageText(headline="Simulacro de evacuación en el edificio A")},
        audiences=("exercise",),
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_channel_keeps_the_contract_against_its_sandbox(
    spec: ChannelSpec[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mqtt_url: str,
) -> None:
    """Built for a drill from its spec, the channel previews, declares limits, delivers, leaks nothing."""
    if spec not in registry.SPECS:
        monkeypatch.setattr(registry, "SPECS", (*registry.SPECS, spec))
    (tmp_path / "contacts.csv").write_text(
        "name,phone,groups,language,email\n"
        "Drill Lead,+16175550100,drill-team,en,drill.lead@hospital.example\n"
        "Jefa,+16175550101,drill-team,es,jefa@hospital.example\n"
    )
    sandbox = await start_sandbox(Settings(), roles=[f.role for f in spec.fakes])
    settings, _ = demo_settings(tmp_path, sandbox)
    try:
        message = _drill()
        preview = spec.preview(message, settings)
        assert preview.panels() and all(p.parts for p in preview.panels())
        json.dumps(preview.to_json())
        channels, skipped = build_channels(settings, sandbox.secrets(), message, only=[spec.name])
        assert skipped == [] and [c.name for c in channels] == [spec.name]
        [channel] = channels
        assert_limits_declared(channel)
        assert channel.public is spec.public
        with watch_for_leaks(sandbox.secrets().all_values()) as watch:
            deliveries = list(channel.render(message, RenderContext(dispatch_id="contract-1")))
            assert deliveries
            await channel.start()
            try:
                receipts: dict[str, Receipt] = {}
                for delivery in deliveries:
                    previous = receipts.get(delivery.after) if delivery.after else None
                    receipts[delivery.key] = await assert_delivers(channel, delivery, previous)
                watch.add(*receipts.values(), *deliveries)
            finally:
                await channel.aclose()
    finally:
        await sandbox.stop()
        if spec.name == "mqtt":  # the shared broker: leave no retained drill behind
            await clear_prefix(mqtt_url, spec.config(settings).exercise_topic_prefix)
