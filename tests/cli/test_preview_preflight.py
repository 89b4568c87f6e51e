"""The preview shows the quality gate and the SMS forecast; send asks for a recorded reason to override it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crisiscast.audit.events import EventKind
from tests.cli.conftest import Cli
from tests.lifecycle.conftest import Team
from tests.preflight.test_corpus import CORPUS

pytestmark = pytest.mark.asyncio


def _write(tmp_path: Path, corpus_id: str, **extra: object) -> Path:
    item = next(i for i in CORPUS if i["id"] == corpus_id)
    path = tmp_path / f"{corpus_id}.yaml"
    path.write_text(yaml.safe_dump({"status": "Actual", **item["message"], **extra}), encoding="utf-8")
    return path


async def test_preview_json_carries_the_findings_and_the_forecast(cli: Cli, tmp_path: Path) -> None:
    """--json has "quality" (verdict, elements per language, findings) and "forecast" for SMS."""
    result = await cli.run("preview", str(_write(tmp_path, "overhead-code-red")), "--json")
    assert result.code == 0, result.stderr  # the gate informs; only a channel that cannot take it is exit 2
    data = json.loads(result.stdout)
    quality = data["quality"]
    assert quality["passed"] is False
    assert {"shouting", "colour_code", "missing_language"} <= {f["check"] for f in quality["findings"]}
    shouted = next(f for f in quality["findings"] if f["check"] == "shouting")
    assert shouted["sentence"] == "CODE RED 3 WEST"
    assert quality["languages"][0]["elements"]["location"] == {"present": False, "sentence": ""}
    forecast = data["forecast"]
    assert [f["channel"] for f in forecast] == ["sms"]
    assert forecast[0]["recipients"] == data["channels"]["sms"]["recipients"]
    assert forecast[0]["sentence"].startswith("SMS: last of ")


async def test_preview_for_people_prints_the_verdict_and_each_finding(cli: Cli, tmp_path: Path) -> None:
    """The text preview says FAILED, marks each element, quotes the shouted sentence and the forecast."""
    result = await cli.run("preview", str(_write(tmp_path, "overhead-code-red")))
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "Quality gate: FAILED with" in out
    assert "en: source ✗ hazard ✗ location ✗ protective_action ✓ time ✗" in out
    assert "error [en] shouting: Written in capitals" in out
    assert "Forecast: SMS: last of 2 texts in about" in out


async def test_actual_free_text_failing_the_gate_needs_a_recorded_override(
    team: Team, tmp_path: Path
) -> None:
    """An approved Actual draft that fails the gate is not sent without --quality-override REASON;
    with it, it goes and the audit's approval keeps the reason and the findings it overrode."""
    message = _write(tmp_path, "english-only-to-bilingual-staff")
    held = await team.run_as("alice", "send", str(message), "--yes")
    draft_id = held.stdout.strip().removeprefix("Saved as draft ").removesuffix(".")
    assert (await team.run_as("bob", "approve", draft_id)).code == 0
    refused = await team.run_as("alice", "send", draft_id, "--yes")
    assert refused.code == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "Nothing was sent: this Actual message fails the quality gate ([es] The audience includes 'es' "
        "speakers but the message has no 'es' text; add a translation.) Reword it, or send it anyway with "
        "--quality-override REASON (the reason is recorded in the audit)."
    )
    assert team.texts() == []
    reason = "no translator on shift"
    sent = await team.run_as("alice", "send", draft_id, "--yes", "--json", "--quality-override", reason)
    assert sent.code in (0, 3), sent.stderr
    plan = next(
        e.event.data for e in await team.events(draft_id) if e.event.kind is EventKind.DISPATCH_PLANNED
    )
    assert plan["approval"]["quality_override"] == reason
    assert any("missing_language" in f for f in plan["approval"]["quality_findings"])
