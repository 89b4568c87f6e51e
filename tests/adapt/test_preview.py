"""Preview data: per channel and language, exact texts, measures, recipients and cost."""

from __future__ import annotations

import json

from crisiscast.adapt.preview import preview_message
from crisiscast.config import Settings
from crisiscast.message import MessageText
from tests.adapt.factory import WEB, message


def settings(**sms: object) -> Settings:
    return Settings.model_validate({"channels": {"sms": sms, "facebook": {"enabled": False}}})


def test_preview_covers_each_channel_and_language() -> None:
    """X, SMS per contact language (fallback merged), banner, MQTT; disabled channels skipped."""
    m = message(
        instruction="Use the east stairs.",
        web=WEB,
        translations={"es": MessageText(headline="Incendio", instruction="Evacúe ahora.")},
    )
    data = preview_message(m, settings(price_per_segment=0.0079), {"en": 10, "es": 3, "fr": 2})
    assert json.loads(json.dumps(data)) == data
    assert set(data["channels"]) == {"twitter", "sms", "banner", "mqtt"}
    assert data["skipped"] == [{"channel": "facebook", "reason": "disabled in the configuration"}]
    assert data["errors"] == []
    [x] = data["channels"]["twitter"]["renderings"]
    assert x["language"] == "en+es" and x["weighted_lengths"][0] <= 280
    sms = data["channels"]["sms"]
    en, es = sms["renderings"]
    assert (en["language"], en["recipients"], en["contact_languages"]) == ("en", 12, ["en", "fr"])
    assert (es["language"], es["recipients"], es["encoding"]) == ("es", 3, "UCS-2")
    assert sms["recipients"] == 15
    assert sms["segments_total"] == 12 * en["segments"] + 3 * es["segments"]
    assert sms["cost"] == round(sms["segments_total"] * 0.0079, 4)


def test_preview_reports_policy_errors_per_channel() -> None:
    """A refused channel carries the sentence; the others still render."""
    m = message(description="Patient MRN 99887766 was moved.")
    data = preview_message(m, settings(), {"en": 1})
    assert "medical record number" in data["channels"]["twitter"]["error"]
    assert data["errors"][0].startswith("twitter: X is public")
    assert data["channels"]["sms"]["renderings"][0]["recipients"] == 1
    assert preview_message(m, settings(), {"en": 1}, allow_phi=True)["errors"] == []


def test_no_price_means_no_cost() -> None:
    """Without price_per_segment the cost is None."""
    data = preview_message(message(), settings(), {})
    assert data["channels"]["sms"]["cost"] is None
    assert data["channels"]["sms"]["recipients"] == 0
