"""The held-back corpus of real-world style messages (tests/data/preflight_corpus.yaml), scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from crisiscast.message import CrisisMessage, Status
from crisiscast.preflight import PreflightConfig, check_message

CORPUS_FILE = Path(__file__).resolve().parents[1] / "data" / "preflight_corpus.yaml"
CORPUS: list[dict[str, Any]] = yaml.safe_load(CORPUS_FILE.read_text(encoding="utf-8"))


def corpus_message(item: dict[str, Any]) -> CrisisMessage:
    """The corpus entry as an Actual message to all staff."""
    return CrisisMessage.model_validate({"status": Status.ACTUAL, **item["message"]})


@pytest.mark.parametrize("item", CORPUS, ids=[str(item["id"]) for item in CORPUS])
def test_the_gate_scores_each_corpus_message_as_expected(item: dict[str, Any]) -> None:
    """Each message gets exactly its expected checks and verdict; every finding says what to change."""
    report = check_message(corpus_message(item), PreflightConfig())
    assert sorted({f.check for f in report.findings}) == sorted(item["expect"]["checks"])
    assert report.passed is item["expect"]["passed"]
    assert all(f.detail.endswith(".") for f in report.findings)  # one whole sentence each


def test_the_corpus_covers_both_languages_and_both_verdicts() -> None:
    """The corpus has Spanish-first and English-first messages, and both passing and failing ones."""
    languages = {str(item["message"].get("language", "en")) for item in CORPUS}
    verdicts = {bool(item["expect"]["passed"]) for item in CORPUS}
    assert languages == {"en", "es"} and verdicts == {True, False}
