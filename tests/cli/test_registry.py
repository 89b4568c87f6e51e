"""The channel registry: which channels a message goes to, and why the others are left out."""

from __future__ import annotations

import importlib

import pytest

from crisiscast.channels.registry import build_channels, is_exercise, names, selected_channels
from crisiscast.config import Secrets, Settings, default_config_text
from crisiscast.errors import MessageFileError
from crisiscast.message import CrisisMessage, Status
from crisiscast.sandbox.runner import fake_roles, secrets_from_env


def _settings(**disabled: bool) -> Settings:
    import tomllib

    raw = tomllib.loads(default_config_text())
    for name in disabled:
        raw["channels"][name]["enabled"] = False
    return Settings.model_validate(raw)


def _message(status: Status = Status.EXERCISE, channels: tuple[str, ...] | None = None) -> CrisisMessage:
    return CrisisMessage(status=status, headline="Drill", audiences=("exercise",), channels=channels)


def _sandbox_secrets() -> Secrets:
    """Every sandbox fake's credentials (production and drill accounts), as the sandbox gives them."""
    env: dict[str, str] = {}
    for _, role in fake_roles().values():
        module = importlib.import_module(role.factory.partition(":")[0])
        sandbox_env = getattr(module, "sandbox_env", None)
        if sandbox_env is not None:
            env.update(sandbox_env(exercise=True) if role.exercise else sandbox_env())
    return secrets_from_env(env)


def test_every_enabled_channel_by_default() -> None:
    """channels omitted: every channel enabled in the configuration, in the registry's order."""
    chosen, skipped = selected_channels(_settings(), _message())
    assert chosen == list(names())
    assert skipped == []


def test_disabled_and_unrequested_channels() -> None:
    """A disabled channel is skipped with the reason; one not asked for is simply not used."""
    chosen, skipped = selected_channels(_settings(mqtt=True), _message(channels=("sms", "mqtt")))
    assert chosen == ["sms"]
    assert skipped == [("mqtt", "the mqtt channel is disabled in the configuration")]


def test_unknown_channel_is_a_message_error() -> None:
    """A channel name crisiscast does not know is refused plainly."""
    with pytest.raises(
        MessageFileError, match=rf"unknown channel 'fax'; use {', '.join(names())}"
    ):
        selected_channels(_settings(), _message(channels=("fax",)))


def test_missing_secrets_skip_those_channels_with_the_variable_named() -> None:
    """Without secrets, every channel that needs one (X, Facebook, SMS …) is skipped naming its
    variable; banner and MQTT build."""
    channels, skipped = build_channels(_settings(), secrets_from_env({}), _message())
    built = {c.name for c in channels}
    assert {"banner", "mqtt"} <= built  # (and the CAP feed: none of them needs a secret)
    reasons = dict(skipped)
    assert set(reasons) == set(names()) - built
    assert all("CRISISCAST_" in reason for reason in reasons.values()), reasons
    assert "CRISISCAST_TWITTER_EXERCISE_" in reasons["twitter"]
    assert "CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN" in reasons["facebook"]
    assert "CRISISCAST_TWILIO_AUTH_TOKEN" in reasons["sms"]


def test_sandbox_secrets_build_every_channel_and_only_restricts() -> None:
    """With the sandbox credentials every channel builds; ``only`` leaves the rest out silently."""
    channels, skipped = build_channels(_settings(), _sandbox_secrets(), _message())
    assert sorted(c.name for c in channels) == sorted(names())
    assert skipped == []
    some, _ = build_channels(_settings(), _sandbox_secrets(), _message(), only=["banner"])
    assert [c.name for c in some] == ["banner"]


@pytest.mark.parametrize(
    ("status", "exercise"), [(Status.ACTUAL, False), (Status.EXERCISE, True), (Status.TEST, True)]
)
def test_exercise_and_test_use_exercise_targets(status: Status, exercise: bool) -> None:
    """Only Actual messages reach production targets."""
    assert is_exercise(_message(status)) is exercise
