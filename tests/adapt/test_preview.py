"""Preview data: per channel and language, exact texts, measures, recipients and cost."""

from __future__ import annotations

import json
from typing import Any

from crisiscast.adapt.preview import preview_message
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.sms.preview import sms_preview_for
from crisiscast.config import Settings
from crisiscast.message import MessageText
from tests.adapt.factory import WEB, message


def settings(**sms: object) -> Settings:
    return Settings.model_validate({"channels": {"sms": sms, "facebook": {"enabled": False}}})


def test_preview_covers_each_enabled_channel() -> None:
    """Every enabled channel of the registry, in its order; disabled channels are skipped with why."""
    m = message(instruction="Use the east stairs.", web=WEB)
    data: Any = preview_message(m, settings()).to_json()
    assert json.loads(json.dumps(data)) == data
    assert list(data["channels"]) == ["twitter", "sms", "banner", "mqtt"]
    assert data["skipped"] == [
        {"channel": "facebook", "reason": "disabled in the configuration"},
        {"channel": "voice", "reason": "disabled in the configuration"},  # calls are opt-in
    ]
    [x] = data["channels"]["twitter"]["renderings"]
    assert x["weighted_lengths"][0] <= 280


def test_sms_preview_per_contact_language_with_cost() -> None:
    """SMS per contact language (an unknown language falls back to the main one), with cost."""
    m = message(translations={"es": MessageText(headline="Incendio", instruction="Evacúe ahora.")})
    counts = {"en": 10, "es": 3, "fr": 2}
    preview = sms_preview_for(m, settings(), SmsConfig(price_per_segment=0.0079), counts)
    en, es = preview.texts
    assert (en.language, en.recipients, en.contact_languages) == ("en", 12, ("en", "fr"))
    assert (es.language, es.recipients, es.encoding) == ("es", 3, "UCS-2")
    assert preview.recipients == 15
    assert preview.segments_total == 12 * en.segments + 3 * es.segments
    assert preview.cost == round(preview.segments_total * 0.0079, 4)
    assert preview.summary() == (
        f"SMS: 15 recipients, {preview.segments_total} segments in all, "
        f"about {preview.cost} in segment charges"
    )


def test_preview_reports_policy_errors_per_channel() -> None:
    """A refused channel carries the sentence; the others still render."""
    m = message(description="Patient MRN 99887766 was moved.")
    data = preview_message(m, settings())
    assert "medical record number" in data.refused["twitter"]
    assert data.errors[0].startswith("twitter: X (Twitter) is public")
    assert "sms" in data.channels
    assert preview_message(m, settings(), allow_phi=True).errors == []


def test_no_price_means_no_cost() -> None:
    """Without price_per_segment the cost is None."""
    preview = sms_preview_for(message(), settings(), SmsConfig(), {})
    assert preview.cost is None
    assert preview.recipients == 0
