"""SMS adaptation: contact language with fallback, Smart Encoding, segment budget and drop order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.channels.sms.adapt import DROP_ORDER, adapt_sms, strip_tracking
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.sms.segments import sms_segments
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage, MessageText, Status
from tests.adapt.factory import WEB, crisis_messages, message

POLICY = PolicyConfig()
SMS = SmsConfig()
TRACKED = WEB + "?utm_source=sms&utm_campaign=fire&id=7&fbclid=abc"


def test_short_message_is_headline_instruction_description_link() -> None:
    """One line each, nothing dropped, metrics from the exact text."""
    m = message(instruction="Use the east stairs.", description="Alarm on floor 3.", web=WEB)
    adapted = adapt_sms(m, "en", SMS, POLICY)
    assert adapted.parts == (f"Fire in Building B\nUse the east stairs.\nAlarm on floor 3.\n{WEB}",)
    assert adapted.metrics == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": len(adapted.parts[0]),
        "dropped": [],
    }


def test_contact_language_with_fallback_to_main() -> None:
    """A Spanish contact gets Spanish; an unknown or empty language gets the main language."""
    m = message(translations={"es": MessageText(headline="Incendio en el Edificio B")})
    assert adapt_sms(m, "es", SMS, POLICY).parts[0] == "Incendio en el Edificio B"
    assert adapt_sms(m, "es-MX", SMS, POLICY).language == "es"
    assert adapt_sms(m, "fr", SMS, POLICY).language == "en"
    assert adapt_sms(m, "", SMS, POLICY).parts[0] == "Fire in Building B"


def test_translation_without_link_uses_the_main_link() -> None:
    """A translation that has no link of its own borrows the main one."""
    m = message(web=WEB, translations={"es": MessageText(headline="Incendio")})
    assert adapt_sms(m, "es", SMS, POLICY).parts[0] == f"Incendio\n{WEB}"


def test_smart_encoding_keeps_gsm7_and_is_on_by_default() -> None:
    """Curly quotes and dashes are replaced before counting, so the text stays GSM-7."""
    m = message(instruction="Don’t use the “east” lifts — use stairs…")
    on = adapt_sms(m, "en", SMS, POLICY)
    assert on.parts[0].endswith('Don\'t use the "east" lifts - use stairs...')
    assert on.metrics["encoding"] == "GSM-7"
    off = adapt_sms(m, "en", SmsConfig(smart_encoding=False), POLICY)
    assert off.metrics["encoding"] == "UCS-2"


def test_tracking_parameters_go_first() -> None:
    """Over budget: the link's tracking parameters are dropped before anything else."""
    m = message(instruction="x" * 80, web=TRACKED)
    adapted = adapt_sms(m, "en", SmsConfig(segment_budget=1), POLICY)
    assert adapted.parts[0].endswith(WEB + "?id=7")
    assert adapted.metrics["dropped"] == ["tracking_parameters"]


def test_description_goes_second_then_the_link() -> None:
    """Still over budget: the description goes, then the link; headline and instruction stay."""
    m = message(instruction="Use the east stairs.", description="d" * 400, web=TRACKED)
    two = adapt_sms(m, "en", SmsConfig(segment_budget=1), POLICY)
    assert two.metrics["dropped"] == ["tracking_parameters", "description"]
    assert two.parts[0] == f"Fire in Building B\nUse the east stairs.\n{WEB}?id=7"
    m = message(instruction="i" * 140, description="d" * 400, web=TRACKED)
    three = adapt_sms(m, "en", SmsConfig(segment_budget=1), POLICY)
    assert three.metrics["dropped"] == list(DROP_ORDER)
    assert three.parts[0] == "Fire in Building B\n" + "i" * 140


def test_over_budget_is_refused_with_segments_needed() -> None:
    """Headline and instruction alone over budget: the sentence says how many segments it needs."""
    m = message(instruction="Evacúe ahora. " * 40)
    with pytest.raises(PolicyError) as err:
        adapt_sms(m, "en", SmsConfig(segment_budget=3), POLICY)
    needed = sms_segments("Fire in Building B\n" + ("Evacúe ahora. " * 40).strip()).segments
    assert str(err.value) == (
        f"The SMS needs {needed} segments but the budget is 3; shorten the headline or instruction."
    )


def test_budget_error_names_the_language_when_there_are_several() -> None:
    """With translations the refusal says which language is too long."""
    m = message(translations={"es": MessageText(headline="Incendio", instruction="Evacúe ahora. " * 40)})
    with pytest.raises(PolicyError, match=r"The SMS \(es\) needs"):
        adapt_sms(m, "es", SMS, POLICY)


def test_marker_counts_towards_the_budget() -> None:
    """An Exercise SMS that fits without the marker may need another segment with it."""
    m = message(status=Status.EXERCISE, headline="h" * 150)
    adapted = adapt_sms(m, "en", SMS, POLICY)
    assert adapted.parts[0].startswith("EXERCISE EXERCISE EXERCISE ")
    assert adapted.metrics["segments"] == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (WEB, WEB),
        (WEB + "?utm_source=a&utm_medium=b", WEB),
        (WEB + "?id=3&UTM_Campaign=x&gclid=1&mc_eid=2", WEB + "?id=3"),
        ("https://a.org/p?q=a%20b&utm_term=z#top", "https://a.org/p?q=a+b#top"),
    ],
)
def test_strip_tracking(url: str, expected: str) -> None:
    """utm_* and well-known click ids are removed; other parameters and the fragment stay."""
    assert strip_tracking(url) == expected


@settings(max_examples=200, deadline=None)
@given(
    crisis_messages(),
    st.integers(min_value=1, max_value=4),
    st.booleans(),
    st.sampled_from(["en", "es", "fr"]),
)
def test_no_sms_over_budget_is_ever_produced(
    m: CrisisMessage, budget: int, smart: bool, language: str
) -> None:
    """Property: adapt_sms returns a text within the budget (re-counted independently) or refuses."""
    sms = SmsConfig(segment_budget=budget, smart_encoding=smart)
    try:
        adapted = adapt_sms(m, language, sms, POLICY)
    except PolicyError as exc:
        assert f"but the budget is {budget}" in str(exc)
        return
    assert sms_segments(adapted.parts[0]).segments <= budget
    assert adapted.metrics["segments"] == sms_segments(adapted.parts[0]).segments
