"""End to end: an Exercise (or Test) is labelled on every channel and reaches only exercise targets (S6).

What is checked is what arrived, not what was rendered: the text of every X post and
Facebook post and every SMS body as the fakes received them, the banner file on disk and
the retained MQTT message as a new subscriber reads it. The production accounts, Page,
recipients, banner file and topic must have received nothing at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crisiscast.channels.registry import spec_for
from crisiscast.delivery import DeliveryState
from crisiscast.loader import load_message
from crisiscast.message import CrisisMessage

from .ledger import check_ledger, read_audit
from .stage import open_stage

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def drill_of(status: str) -> CrisisMessage:
    """The long two-language example as an Exercise/Test for the exercise audience (X threads it)."""
    original = load_message(EXAMPLES / "long-two-language.yaml")
    data = original.model_dump(mode="json")
    data.update(status=status, audiences=["exercise"])
    return CrisisMessage.model_validate(data)


def assert_document_marked(document: dict[str, Any], marker: str) -> None:
    assert document["exercise"] is True
    assert document["headline"].startswith(marker), document["headline"]
    for language, text in (document.get("translations") or {}).items():
        assert text["headline"].startswith(marker), (language, text["headline"])


# Test runs with `make test-slow` (CI keeps Exercise: the same isolation path, another status word)
@pytest.mark.parametrize("status", ["Exercise", pytest.param("Test", marks=pytest.mark.slow)])
async def test_drill_is_marked_everywhere_and_reaches_only_exercise_targets(
    tmp_path: Path, mqtt_url: str, status: str
) -> None:
    """An Exercise/Test of the long two-language message: every X post (each thread part),
    Facebook post, SMS body, the banner file and the retained MQTT message start with the
    marker; only the exercise X account, exercise Page, drill-team numbers, exercise banner
    file and exercise topic received anything; the audit matches the exercise fakes (A1)."""
    message = drill_of(status)
    # with the marker, the Spanish text needs a fourth UCS-2 segment (three would refuse it)
    overrides = {"sms": {"segment_budget": 4}}
    async with open_stage(tmp_path, mqtt_url, staff=50, drill=30, overrides=overrides) as stage:
        policy = stage.settings.policy
        marker = policy.exercise_marker if status == "Exercise" else policy.test_marker
        plan, report = await stage.broadcast(message)
        assert report.ok, json.dumps(report.to_json(), indent=1)[:3000]
        assert len(plan.deliveries["twitter"]) > 2, "the drill should thread on X"
        view = await read_audit(stage.store, plan.dispatch_id)
        assert {r.state for r in view.records.values()} == {DeliveryState.DELIVERED}
        check_ledger(stage, view, exercise=True)

        # the marker, as received
        x_posts = stage.x_exercise.posts
        assert len(x_posts) == len(plan.deliveries["twitter"])
        assert all(p["text"].startswith(marker) for p in x_posts), [p["text"][:40] for p in x_posts]
        exercise_page = spec_for("facebook").config(stage.settings).exercise_page_id
        fb_posts = [p for p in stage.graph.posts if p["id"].startswith(f"{exercise_page}_")]
        assert fb_posts and all(p["message"].startswith(marker) for p in fb_posts)
        texts = stage.twilio.messages()
        assert len(texts) == 30 and all(m["body"].startswith(marker) for m in texts)
        assert_document_marked(json.loads(stage.banner_path(exercise=True).read_bytes()), marker)
        payload = await stage.retained(stage.mqtt_topic(exercise=True))
        assert payload is not None
        assert_document_marked(json.loads(payload), marker)

        # only exercise targets
        assert {m["to"] for m in texts} == set(stage.drill)
        assert not [r for r in stage.x.requests if not r.path.startswith("/_sandbox")]
        assert len(stage.graph.posts) == len(fb_posts)
        assert not stage.banner_path(exercise=False).exists()
        assert await stage.retained(stage.mqtt_topic(exercise=False)) is None
