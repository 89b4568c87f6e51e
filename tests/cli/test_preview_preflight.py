"""The preview shows the quality gate's findings and the SMS forecast, for people and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Cli
from tests.preflight.test_corpus import CORPUS

pytestmark = pytest.mark.asyncio


def write_corpus_message(tmp_path: Path, corpus_id: str, **extra: object) -> Path:
    """The corpus entry ``corpus_id`` as an Actual message file in ``tmp_path``."""
    item = next(i for i in CORPUS if i["id"] == corpus_id)
    path = tmp_path / f"{corpus_id}.yaml"
    path.write_text(yaml.safe_dump({"status": "Actual", **item["message"], **extra}), encoding="utf-8")
    return path


async def test_preview_json_carries_the_findings_and_the_forecast(cli: Cli, tmp_path: Path) -> None:
    """--json has "quality" (verdict, elements per language, findings) and "forecast" for SMS."""
    result = await cli.run("preview", str(write_corpus_message(tmp_path, "overhead-code-red")), "--json")
    assert result.code == 0, result.stderr  # the gate informs; only a channel that cannot take it is exit 2
    data = json.loads(result.stdout)
    quality = data["quality"]
    assert quality["passed"] is False
    assert {"shouting", "colour_code", "missing_language"} <= {f["check"] for f in quality["findings"]}
    shouted = next(f for f in quality["findings"] if f["check"] == "shouting")
    assert shouted["sentence"] == "CODE RED 3 WEST"
    elements = quality["languages"][0]["elements"]
    assert elements["location"] == {"present": True, "sentence": "CODE RED 3 WEST"}
    assert elements["source"] == {"present": False, "sentence": ""}
    forecast = data["forecast"]
    assert [f["channel"] for f in forecast] == ["sms"]
    assert forecast[0]["recipients"] == data["channels"]["sms"]["recipients"]
    assert forecast[0]["sentence"].startswith("SMS: last of ")


async def test_preview_for_people_prints_the_verdict_and_each_finding(cli: Cli, tmp_path: Path) -> None:
    """The text preview says FAILED, marks each element, quotes the shouted sentence and the forecast."""
    result = await cli.run("preview", str(write_corpus_message(tmp_path, "overhead-code-red")))
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "Quality gate: FAILED with" in out
    assert "en: source ✗ hazard ✗ location ✓ protective_action ✓ time ✗" in out
    assert "error [en] shouting: Written in capitals" in out
    assert "Forecast: SMS: last of 2 texts in about" in out
