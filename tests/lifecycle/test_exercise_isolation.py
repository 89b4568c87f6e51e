"""S6: an Exercise never reaches a production target, whatever the configuration says.

Hypothesis writes configurations whose exercise targets are the production ones in every
spelling we know (``./path``, ``path/../path``, a trailing slash, other letter case, the same
credentials under another URL, a group named ``Staff`` and ``staff``). Each one is either
refused by validation, or the channels built for an Exercise reach no production target:
the oracle here checks each built channel against the production configuration directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from crisiscast.channels.base import RenderContext
from crisiscast.channels.mqtt.channel import alert_topic
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.config import Secrets, Settings
from crisiscast.errors import PolicyError
from crisiscast.lifecycle.followup import Reach, follow_up_message
from crisiscast.message import CrisisMessage, MsgType, Status

PROD_KEYS = {"key": "prod-consumer-key", "token": "prod-access-token"}
DRILL_KEYS = {"key": "drill-consumer-key", "token": "drill-access-token"}
CONTACTS = "name,phone,groups,language\nA,+16175550101,staff,en\nB,+16175550126,drill-team,en\n"


def _secrets(x_exercise: dict[str, str] | None) -> Secrets:
    values: dict[str, str] = {
        "twitter_consumer_key": PROD_KEYS["key"],
        "twitter_consumer_secret": "prod-consumer-secret",
        "twitter_access_token": PROD_KEYS["token"],
        "twitter_access_token_secret": "prod-token-secret",
        "facebook_page_token": "prod-page-token",
        "facebook_exercise_page_token": "drill-page-token",
        "twilio_auth_token": "twilio-token-123",
    }
    if x_exercise is not None:
        values["twitter_exercise_consumer_key"] = x_exercise["key"]
        values["twitter_exercise_consumer_secret"] = "drill-consumer-secret"
        values["twitter_exercise_access_token"] = x_exercise["token"]
        values["twitter_exercise_access_token_secret"] = "drill-token-secret"
    return Secrets.model_validate({k: SecretStr(v) for k, v in values.items()})


def _exercise(**kw: Any) -> CrisisMessage:
    fields: dict[str, Any] = {
        "status": Status.EXERCISE,
        "headline": "Evacuation drill in Building A",
        "audiences": ("all-staff", "exercise"),
    }
    fields.update(kw)
    return CrisisMessage(**fields)


configs = st.fixed_dictionaries(
    {
        "banner_path": st.sampled_from(["var/banner.json"]),
        "banner_exercise": st.sampled_from(
            ["var/banner.json", "./var/banner.json", "var/../var/banner.json", "var/drill.json", "link.json"]
        ),
        "cms": st.sampled_from([None, "https://cms.example.org/banner"]),
        "cms_exercise": st.sampled_from(
            [
                None,
                "https://cms.example.org/banner",
                "https://CMS.example.org/banner/",
                "https://cms.example.org/d",
            ]
        ),
        "prefix": st.sampled_from(["hospital/cc"]),
        "prefix_exercise": st.sampled_from(
            ["hospital/cc", "hospital/cc/", "hospital/cc//", "hospital/drill"]
        ),
        "page": st.sampled_from(["100000000000001"]),
        "page_exercise": st.sampled_from(["100000000000001", "100000000000999"]),
        "x_url": st.sampled_from(["http://127.0.0.1:8701"]),
        "x_url_exercise": st.sampled_from(
            [
                "http://127.0.0.1:8701",
                "http://127.0.0.1:8701/",
                "HTTP://127.0.0.1:8701",
                "http://127.0.0.1:8711",
            ]
        ),
        "x_keys_exercise": st.sampled_from([PROD_KEYS, DRILL_KEYS]),
        "staff_group": st.sampled_from(["staff", "Staff"]),
        "drill_groups": st.sampled_from([["drill-team"], ["staff"], ["STAFF"], ["drill-team", "Staff"]]),
    }
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "var").mkdir()
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (tmp_path / "var" / "banner.json").write_text("{}", encoding="utf-8")
    os.symlink(tmp_path / "var" / "banner.json", tmp_path / "link.json")
    return tmp_path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(configs)
def test_no_configuration_routes_an_exercise_to_a_production_target(workdir: Path, c: dict[str, Any]) -> None:
    """Every exercise-built channel differs from its production target, or the config is refused."""
    raw: dict[str, Any] = {
        "base_dir": str(workdir),
        "audiences": {"all-staff": [c["staff_group"]], "exercise": c["drill_groups"]},
        "channels": {
            "banner": {
                "path": c["banner_path"],
                "exercise_path": c["banner_exercise"],
                "cms_url": c["cms"],
                "exercise_cms_url": c["cms_exercise"],
            },
            "mqtt": {"topic_prefix": c["prefix"], "exercise_topic_prefix": c["prefix_exercise"]},
            "facebook": {"page_id": c["page"], "exercise_page_id": c["page_exercise"]},
            "twitter": {"api_base_url": c["x_url"], "exercise_api_base_url": c["x_url_exercise"]},
            "sms": {
                "contacts": "contacts.csv",
                "account_sid": "AC" + "0" * 32,
                "messaging_service_sid": "MG1",
            },
        },
    }
    raw["channels"]["banner"] = {k: v for k, v in raw["channels"]["banner"].items() if v is not None}
    try:
        config = Settings.model_validate(raw)
    except ValidationError:
        return  # refused by configuration validation
    channels, skipped = build_channels(config, _secrets(c["x_keys_exercise"]), _exercise())
    assert {ch.name for ch in channels} | {name for name, _ in skipped} == {
        "twitter",
        "facebook",
        "sms",
        "voice",
        "banner",
        "mqtt",
    }
    production_banner = os.path.realpath(config.resolve(spec_for("banner").config(config).path))
    for ch in channels:
        target: Any = ch
        if ch.name == "banner":
            assert os.path.realpath(target.path) != production_banner
            cms = target.cms_url
            assert cms is None or cms.rstrip("/").lower() != (c["cms"] or "").rstrip("/").lower()
        elif ch.name == "mqtt":
            assert target.topic != alert_topic(c["prefix"])
        elif ch.name == "facebook":
            assert target.page_id != c["page"]
        elif ch.name == "twitter":
            assert target._credentials.consumer_key.get_secret_value() != PROD_KEYS["key"]
        elif ch.name == "sms":
            recipients = target.recipients(_exercise(), RenderContext(dispatch_id="d"))
            assert all("staff" not in contact.groups for contact in recipients)


def test_channel_without_exercise_target_is_skipped_with_its_reason(workdir: Path) -> None:
    """No exercise Page, topic or X account: those channels are skipped, each with a plain reason."""
    config = Settings.model_validate(
        {
            "base_dir": str(workdir),
            "channels": {
                "facebook": {"page_id": "1", "exercise_page_id": None},
                "mqtt": {"exercise_topic_prefix": None},
            },
        }
    )
    _, skipped = build_channels(config, _secrets(None), _exercise(channels=("facebook", "mqtt", "twitter")))
    reasons = dict(skipped)
    assert reasons["facebook"].startswith("No Facebook exercise Page is configured")
    assert reasons["mqtt"].startswith("No exercise MQTT topic is configured")
    assert reasons["twitter"].startswith("No X exercise account is configured")


def test_configuration_refuses_a_literal_overlap() -> None:
    """Validation refuses an exercise audience sharing a group, and each literal target overlap."""
    with pytest.raises(ValidationError, match="shares the contact group"):
        Settings.model_validate({"audiences": {"all-staff": ["staff"], "exercise": ["staff"]}})
    for section, values in {
        "banner": {"path": "b.json", "exercise_path": "b.json"},
        "mqtt": {"topic_prefix": "t", "exercise_topic_prefix": "t"},
        "facebook": {"page_id": "1", "exercise_page_id": "1"},
    }.items():
        with pytest.raises(ValidationError, match="is the production one"):
            Settings.model_validate({"channels": {section: values}})


def test_follow_up_keeps_the_original_status() -> None:
    """An Exercise Update of a real alert (or the reverse) is refused: a drill stays a drill."""
    from datetime import UTC, datetime

    from crisiscast.audit.base import DispatchRecord

    original = CrisisMessage(status=Status.ACTUAL, headline="Fire in Building B")
    record = DispatchRecord("d1", datetime.now(UTC), "finished", original.model_dump(mode="json"), {})
    reach = Reach(root=record, message=original)
    reach.delivered["banner"] = []
    with pytest.raises(PolicyError, match="keeps the original's status"):
        follow_up_message(reach, _exercise(), MsgType.UPDATE)
