"""Per-channel words: a template's ``channels:`` wording reaches that channel and no other.

The rendered ``CrisisMessage`` carries it as ``channel_text``; every ``adapt_*`` function
renders its channel's own words when present (the shared text otherwise), the Exercise
marker still comes from the one ``labels.finish`` path, the PHI guard reads it, and an
Update labels its headlines too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from crisiscast.adapt.phi import check_phi
from crisiscast.audit.base import DeliveryRecord, DispatchRecord
from crisiscast.channels.banner.adapt import adapt_banner
from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.mqtt.adapt import adapt_mqtt
from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.config import PolicyConfig
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.errors import ConfigError, PolicyError
from crisiscast.lifecycle.followup import Reach, follow_up_message
from crisiscast.message import CrisisMessage, MessageText, MsgType, Status
from crisiscast.templates import parse_template

POLICY = PolicyConfig()
MARKER = POLICY.exercise_marker

TEMPLATE = b"""
id: t-channels
version: 1
approved_by: Someone
approved_at: 2026-01-01T00:00:00Z
event: Fire
severity: Extreme
urgency: Immediate
certainty: Observed
variables:
  where: {max_length: 20}
text:
  en: {headline: "Facility alert: fire in {where}", instruction: "Close doors. Do not use elevators."}
  es: {headline: "Alerta: incendio en {where}", instruction: "Cierre puertas."}
channels:
  sms:
    en: {headline: "FIRE {where}", instruction: "Close doors."}
  banner:
    es: {headline: "INCENDIO {where}"}
"""


def _rendered(status: Status = Status.EXERCISE) -> CrisisMessage:
    return parse_template(TEMPLATE, "t.yaml").render({"where": "Building A"}, status=status)


def test_template_channel_words_reach_the_message() -> None:
    """Rendering a template fills channel_text per channel and language, fields not named kept shared."""
    message = _rendered()
    assert message.channel_text["sms"]["en"] == MessageText(
        headline="FIRE Building A", instruction="Close doors."
    )
    assert message.channel_text["banner"]["es"].headline == "INCENDIO Building A"
    assert message.channel_text["banner"]["es"].instruction == "Cierre puertas."
    assert set(message.channel_text) == {"sms", "banner"}


def test_sms_renders_its_own_words_with_the_marker() -> None:
    """The English SMS uses the sms wording, marked; the Spanish SMS (no sms wording) the shared text."""
    message = _rendered()
    english = adapt_sms(message, "en", SmsConfig(), POLICY).parts[0]
    assert english == f"{MARKER} FIRE Building A\nClose doors."
    spanish = adapt_sms(message, "es", SmsConfig(), POLICY).parts[0]
    assert spanish.startswith(f"{MARKER} Alerta: incendio en Building A")


def test_other_channels_keep_the_shared_words() -> None:
    """X, Facebook and MQTT have no wording of their own here: they render the shared text, marked."""
    message = _rendered()
    for adapted in [*adapt_x(message, POLICY, max_parts=4), *adapt_facebook(message, POLICY)]:
        assert adapted.parts[0].startswith(f"{MARKER} Facility alert: fire in Building A")
        assert "FIRE Building A" not in "".join(adapted.parts)
    assert (
        adapt_mqtt(message, POLICY)["translations"]["es"]["headline"]
        == f"{MARKER} Alerta: incendio en Building A"
    )


def test_banner_document_uses_its_own_words() -> None:
    """The banner's Spanish headline is the banner wording, marked; its English one is shared."""
    document = adapt_banner(_rendered(), POLICY)
    assert document["translations"]["es"]["headline"] == f"{MARKER} INCENDIO Building A"
    assert document["headline"] == f"{MARKER} Facility alert: fire in Building A"


def test_x_and_facebook_use_their_own_words() -> None:
    """A message with twitter and facebook wording renders each on its channel only."""
    message = CrisisMessage(
        status=Status.ACTUAL,
        headline="Shared words",
        channel_text={
            "twitter": {"en": MessageText(headline="Words for X")},
            "facebook": {"en": MessageText(headline="Words for the Page")},
        },
    )
    assert adapt_x(message, POLICY, max_parts=4)[0].parts == ("Words for X",)
    assert adapt_facebook(message, POLICY)[0].parts == ("Words for the Page",)
    assert adapt_sms(message, "en", SmsConfig(), POLICY).parts == ("Shared words",)


def test_phi_in_channel_words_is_refused() -> None:
    """The PHI guard reads the per-channel words too."""
    message = CrisisMessage(
        status=Status.ACTUAL,
        headline="Shared words",
        channel_text={"banner": {"en": MessageText(headline="Patient MRN: 12345678 moved")}},
    )
    with pytest.raises(PolicyError, match="looks like"):
        check_phi(message, POLICY, channel="X (Twitter)")


def test_channel_words_in_a_language_the_message_lacks_are_refused() -> None:
    """Per-channel words must be in one of the message's languages; a template says which channel."""
    with pytest.raises(ValidationError, match=r"channel_text\.sms has 'fr' text"):
        CrisisMessage(
            status=Status.ACTUAL, headline="x", channel_text={"sms": {"fr": MessageText(headline="y")}}
        )
    with pytest.raises(ConfigError, match=r"channels\.x is not a channel"):
        parse_template(TEMPLATE.replace(b"  banner:\n", b"  x:\n"), "t.yaml")


def test_update_labels_the_channel_headlines() -> None:
    """An Update's per-channel headlines say Update too, like the shared ones."""
    original = _rendered(Status.ACTUAL)
    record = DispatchRecord("d1", datetime.now(UTC), "finished", original.model_dump(mode="json"), {})
    reach = Reach(root=record, message=original)
    sms = Delivery(dispatch_id="d1", channel="sms", target="+16175550126", part=1, body="FIRE", language="en")
    reach.delivered["sms"] = [
        DeliveryRecord(sms, DeliveryState.DELIVERED, 1, "SM1", None, None, datetime.now(UTC))
    ]
    update = follow_up_message(reach, _rendered(Status.ACTUAL), MsgType.UPDATE)
    assert update.channel_text["sms"]["en"].headline == "Update: FIRE Building A"
    assert update.headline == "Update: Facility alert: fire in Building A"
