"""Exercise and Test markers: every rendering of a drill, on every channel, starts with the marker."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crisiscast.adapt
from crisiscast.adapt.labels import Label, label_for
from crisiscast.adapt.state import cleared_document
from crisiscast.channels.banner.adapt import adapt_banner
from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.mqtt.adapt import adapt_mqtt
from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, MessageText, Status
from tests.adapt.factory import crisis_messages, message

MARKERS = {Status.EXERCISE: "EXERCISE EXERCISE EXERCISE", Status.TEST: "TEST"}


def all_renderings(m: CrisisMessage, policy: PolicyConfig) -> list[str]:
    """Every text any channel would show for ``m`` (SMS in every language, documents' headlines)."""
    texts: list[str] = []
    try:
        texts += [p for r in adapt_x(m, policy, max_parts=25) for p in r.parts]
    except PolicyError as exc:
        assert "posts but at most" in str(exc)
    texts += [p for r in adapt_facebook(m, policy) for p in r.parts]
    for language in (*m.languages, "fr", ""):
        try:
            texts += list(adapt_sms(m, language, SmsConfig(segment_budget=10), policy).parts)
        except PolicyError as exc:
            assert "segments but the budget" in str(exc)
    for document in (adapt_banner(m, policy), adapt_mqtt(m, policy), cleared_document(m, policy)):
        texts.append(document["headline"])
        texts += [t["headline"] for t in document["translations"].values()]
    return texts


@settings(max_examples=60, deadline=None)
@given(crisis_messages(statuses=(Status.EXERCISE, Status.TEST)))
def test_every_drill_rendering_starts_with_the_marker(m: CrisisMessage) -> None:
    """Property: X posts, Facebook posts, SMS (all languages) and document headlines all carry it."""
    policy = PolicyConfig()
    marker = MARKERS[m.status]
    texts = all_renderings(m, policy)
    assert texts
    assert all(t.startswith(marker + " ") for t in texts)


@settings(max_examples=30, deadline=None)
@given(crisis_messages(statuses=(Status.ACTUAL,)))
def test_actual_messages_carry_no_marker(m: CrisisMessage) -> None:
    """An Actual message is never labelled as a drill."""
    assert not any(t.startswith(("EXERCISE", "TEST ")) for t in all_renderings(m, PolicyConfig()))


def test_custom_markers_are_used() -> None:
    """The configured markers replace the defaults."""
    policy = PolicyConfig(exercise_marker="[DRILL]", test_marker="[SYSTEM TEST]")
    assert (
        adapt_sms(message(status=Status.EXERCISE), "en", SmsConfig(), policy).parts[0].startswith("[DRILL] ")
    )
    assert adapt_x(message(status=Status.TEST), policy, max_parts=1)[0].parts[0].startswith("[SYSTEM TEST] ")


@pytest.mark.parametrize("status", [Status.EXERCISE, Status.TEST])
def test_blank_marker_is_refused(status: Status) -> None:
    """A drill cannot be rendered with a blank marker: PolicyError naming the setting."""
    policy = PolicyConfig(exercise_marker="  ", test_marker="")
    with pytest.raises(PolicyError, match="marker is empty"):
        adapt_facebook(message(status=status), policy)


def test_exercise_documents_are_flagged() -> None:
    """Banner/MQTT documents of a drill say exercise: true."""
    m = message(status=Status.EXERCISE, translations={"es": MessageText(headline="Simulacro")})
    document = adapt_banner(m, PolicyConfig())
    assert document["exercise"] is True
    assert document["translations"]["es"]["headline"] == "EXERCISE EXERCISE EXERCISE Simulacro"


def test_label_round_trip() -> None:
    """Label.strip undoes Label.apply."""
    label = Label("TEST")
    assert label.strip(label.apply("Hello")) == "Hello"
    assert Label().apply("Hello") == "Hello"
    assert label_for(message(), PolicyConfig()) == Label()


def test_only_the_label_gate_builds_renderings() -> None:
    """Structural: no adaptation module constructs ``Adapted`` except ``labels.finish``."""
    package = Path(crisiscast.adapt.__file__).parent
    builders: list[str] = []
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Adapted":
                builders.append(module.name)
    assert builders == ["labels.py"]


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""))
def test_any_marker_text_is_applied_verbatim(marker: str) -> None:
    """Property: whatever the configured marker, the SMS and Facebook texts start with it (stripped)."""
    policy = PolicyConfig(exercise_marker=marker)
    m = message(status=Status.EXERCISE)
    assert adapt_facebook(m, policy)[0].parts[0].startswith(marker.strip())
    sms = adapt_sms(m, "en", SmsConfig(smart_encoding=False, segment_budget=10), policy)
    assert sms.parts[0].startswith(marker.strip())
