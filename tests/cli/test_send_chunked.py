"""``crisiscast send`` with a plan larger than ``[store] plan_chunk_size``: written in chunks,
everything delivered, the plan's completion recorded, and the audit verifies; a message file and
a template both honour ``[store] plan_chunk_size`` and ``plan_first_chunk_size``."""

from __future__ import annotations

import json
import tomllib

import pytest

from crisiscast.cli.demo_run import to_toml
from crisiscast.config import load_settings
from crisiscast.dispatch.chunks import chunk_slices
from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


def _chunks_of(cli: Cli, size: int, first: int) -> None:
    raw = tomllib.loads(cli.config.read_text(encoding="utf-8"))
    raw["store"].update(plan_chunk_size=size, plan_first_chunk_size=first)
    raw["templates_dir"] = str(EXAMPLES.parent / "templates")
    cli.config.write_text(to_toml(raw), encoding="utf-8")
    assert load_settings(cli.config).store.plan_chunk_size == size


async def test_send_with_a_plan_in_chunks_of_two(cli: Cli) -> None:
    _chunks_of(cli, 2, 2)

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


async def test_a_template_send_writes_its_plan_in_the_configured_chunks(cli: Cli) -> None:
    """The commander's usual command (an approved template): the first chunk has the configured
    first size and the rest the configured size, as the plan's completion records."""
    _chunks_of(cli, 2, 1)
    fire = ("send", "--template", "facility-fire", "--var", "location=Building A, floor 3")
    sent = await cli.run(*fire, "--status", "exercise", "--yes", "--json")
    assert sent.code == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert report["ok"] is True
    counts = {name: c["planned"] for name, c in report["channels"].items() if c["planned"]}
    shown = await cli.run("audit", "show", report["dispatch_id"], "--json")
    events = json.loads(shown.stdout)["events"]
    [completed] = [e for e in events if e["kind"] == "dispatch_plan_completed"]
    assert completed["data"] == {
        "deliveries": sum(counts.values()),
        "chunks": len(chunk_slices(counts, 2, 1)),
    }
