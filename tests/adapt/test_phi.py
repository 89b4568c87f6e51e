"""PHI guard: public channels refuse text that looks like patient information."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crisiscast.adapt.phi import check_phi, find_phi
from crisiscast.adapt.preview import preview_message
from crisiscast.channels.registry import SPECS
from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.spec import ChannelSpec
from crisiscast.config import PolicyConfig, Settings
from crisiscast.errors import ConfigError, PolicyError
from crisiscast.message import MessageText
from tests.adapt.factory import message

POLICY = PolicyConfig()
NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Patient MRN: 1234567 moved to ICU", "a medical record number"),
        ("mrn#12345678", "a medical record number"),
        ("Medical record number 00123456 affected", "a medical record number"),
        ("DOB 03/14/1956", "a date of birth"),
        ("d.o.b.: 1956-03-14", "a date of birth"),
        ("Date of birth: March 14, 1956", "a date of birth"),
        ("born 1956 in Ohio", "a date of birth"),
        ("fecha de nacimiento 14/03/1956", "a date of birth"),
        ("John Smith (03/14/1956) in ER 4", "a name next to a date of birth"),
        ("Maria Lopez, 14 March 1956", "a name next to a date of birth"),
        ("Ana María Pérez, 3 de marzo de 1950", "a name next to a date of birth"),
        ("SSN 123-45-6789", "a social security number"),
        ("https://portal.example.org/chart?mrn=1234567", "a medical record number"),
    ],
)
def test_patient_information_is_found(text: str, kind: str) -> None:
    """Each PHI shape is recognised and named."""
    assert find_phi(text, now=NOW) == kind


@pytest.mark.parametrize(
    "text",
    [
        "Fire in Building B. Evacuate via the east stairs.",
        "Emergency Department closed until 11/28/2026",
        "Code Red at Main Building 2024-01-01",
        "Call extension 555-1234 for help",
        "Drill on 03/14/26 at Main Campus",
        "Visitors: Main Entrance, 11/28/2026 from 9:00",
        "Room 1234567 is closed",
        "Evacúe por las escaleras del este.",
    ],
)
def test_ordinary_crisis_text_is_not_phi(text: str) -> None:
    """Incident dates, phone extensions and room numbers are not mistaken for PHI."""
    assert find_phi(text, now=NOW) is None


def test_extra_patterns_from_policy() -> None:
    """policy.phi_patterns adds site-specific patterns, named by their position."""
    assert find_phi("Bed PT-00042 moved", [r"PT-\d{5}"]) == "a match for policy.phi_patterns #1"
    with pytest.raises(ConfigError, match="phi_patterns #2 is not a valid regular expression"):
        find_phi("anything", ["ok", "(unclosed"])


@pytest.mark.parametrize("spec", [s for s in SPECS if s.public], ids=lambda s: s.name)
def test_public_channels_refuse_phi_without_echoing_it(spec: ChannelSpec[Any]) -> None:
    """Every public channel refuses in the preview, naming the kind and field, never the number."""
    m = message(description="Patient MRN 99887766 was moved.")
    sentence = preview_message(m, Settings()).refused[spec.name]
    assert sentence.startswith(spec.title)
    assert "the description" in sentence and "a medical record number" in sentence
    assert "99887766" not in sentence
    assert spec.name not in preview_message(m, Settings(), allow_phi=True).refused


def test_only_public_channels_are_guarded() -> None:
    """The guard follows the spec's ``public``: staff channels (SMS) are not refused."""
    m = message(description="Patient MRN 99887766 was moved.")
    refused = preview_message(m, Settings()).refused
    assert set(refused) == {s.name for s in SPECS if s.public}


def test_phi_in_a_translation_names_the_language() -> None:
    """PHI in a translation is found too, and the sentence says which language."""
    m = message(translations={"es": MessageText(headline="Paciente", instruction="DOB 01/02/1950")})
    with pytest.raises(PolicyError, match=r"the instruction \(es\)"):
        check_phi(m, POLICY, channel="Facebook Page")


def test_sms_is_not_a_public_channel() -> None:
    """Staff SMS is not checked (it goes to named staff, not the public)."""
    m = message(description="Patient MRN 99887766 was moved.")
    assert "99887766" in adapt_sms(m, "en", SmsConfig(segment_budget=5), POLICY).parts[0]
