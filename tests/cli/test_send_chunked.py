"""``crisiscast send`` with a plan larger than ``[store] plan_chunk_size``: written in chunks,
everything delivered, the plan's completion recorded, and the audit verifies."""

from __future__ import annotations

import json
import tomllib

import pytest

from crisiscast.cli.demo_run import to_toml
from crisiscast.config import load_settings
from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


async def test_send_with_a_plan_in_chunks_of_two(cli: Cli) -> None:
    raw = tomllib.loads(cli.config.read_text(encoding="utf-8"))
    raw["store"]["plan_chunk_size"] = 2
    cli.config.write_text(to_toml(raw), encoding="utf-8")
    assert load_settings(cli.config).store.plan_chunk_size == 2

    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert report["ok"] is True and report["channels"]["sms"]["delivered"] == 3
    planned = sum(c["planned"] for c in report["channels"].values())
    assert planned > 2  # more than one chunk

    shown = await cli.run("audit", "show", report["dispatch_id"], "--json")
    assert shown.code == 0, shown.stderr
    kinds = [e["kind"] for e in json.loads(shown.stdout)["events"]]
    assert kinds.count("delivery_planned") == planned
    assert kinds.count("dispatch_plan_completed") == 1
    assert kinds.index("dispatch_plan_completed") < kinds.index("dispatch_finished")
    verified = await cli.run("audit", "verify")
    assert verified.code == 0, verified.stdout + verified.stderr
