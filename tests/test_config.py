"""Configuration: the shipped file is the embedded default, and every mistake is one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from crisiscast.config import Secrets, default_config_text, load_secrets, load_settings
from crisiscast.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_defaults_equal_the_shipped_config_file() -> None:
    """src/crisiscast/defaults.toml and config/crisiscast.toml are the same text."""
    shipped = (ROOT / "config" / "crisiscast.toml").read_text(encoding="utf-8")
    assert default_config_text() == shipped


def test_shipped_config_is_valid_and_points_only_at_the_sandbox() -> None:
    """The shipped configuration loads, and no provider URL leaves this machine."""
    settings = load_settings(ROOT / "config" / "crisiscast.toml")
    from crisiscast.sandbox.runner import fake_roles

    roles = fake_roles()
    assert roles  # every channel's provider URL that a fake can stand in for
    for spec, fake in roles.values():
        url = getattr(spec.config(settings), fake.url_field)
        assert url is not None and url.startswith(("http://127.0.0.1:", "smtp://127.0.0.1:")), (
            spec.name,
            fake.url_field,
        )


def test_embedded_defaults_used_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no --config, no $CRISISCAST_CONFIG and no config/crisiscast.toml, the embedded defaults load."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRISISCAST_CONFIG", raising=False)
    assert load_settings() == load_settings(ROOT / "config" / "crisiscast.toml")


def test_environment_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$CRISISCAST_CONFIG is used when no path is given."""
    path = tmp_path / "c.toml"
    path.write_text('[store]\nurl = "sqlite:///elsewhere.db"\n', encoding="utf-8")
    monkeypatch.setenv("CRISISCAST_CONFIG", str(path))
    assert load_settings().store.url == "sqlite:///elsewhere.db"


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message.replace(str(path), "FILE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store\nurl = 1\n", "The configuration FILE is not valid TOML: "),
        (
            "[channels.sms]\nmax_concurency = 5\n",
            "The configuration FILE is invalid: 'channels.sms.max_concurency' is not a known key "
            "(did you mean 'max_concurrency'?); remove it or fix its spelling.",
        ),
        (
            "[channels.sms]\nmax_concurrency = 0\n",
            "The configuration FILE is invalid: channels.sms.max_concurrency: ",
        ),
        (
            '[policy]\nin_doubt_policy = "maybe"\n',
            "The configuration FILE is invalid: policy.in_doubt_policy: ",
        ),
    ],
)
def test_validation_errors_are_plain_sentences(tmp_path: Path, text: str, expected: str) -> None:
    """A wrong value or a misspelt key names the file and the dotted key."""
    assert _error(tmp_path, text).startswith(expected)


def test_exercise_audience_sharing_production_groups_is_refused(tmp_path: Path) -> None:
    """An exercise audience may not reach a contact group that production audiences reach."""
    message = _error(
        tmp_path, '[audiences]\nall-staff = ["staff", "drill-team"]\nexercise = ["drill-team"]\n'
    )
    assert message == (
        "The configuration FILE is invalid: the exercise audience 'exercise' shares the contact group "
        "'drill-team' with the production audience 'all-staff'; give drills a contact group of their own "
        "in [audiences]."
    )


@pytest.mark.parametrize(
    ("section", "text", "what"),
    [
        ("banner", 'path = "var/b.json"\nexercise_path = "var/b.json"', "banner path"),
        ("mqtt", 'topic_prefix = "h/c"\nexercise_topic_prefix = "h/c"', "MQTT topic prefix"),
        ("facebook", 'page_id = "1"\nexercise_page_id = "1"', "Facebook page"),
    ],
)
def test_exercise_target_equal_to_production_is_refused(
    tmp_path: Path, section: str, text: str, what: str
) -> None:
    """An exercise target identical to the production one is a configuration error."""
    message = _error(tmp_path, f"[channels.{section}]\n{text}\n")
    assert f"the exercise {what} is the production one" in message


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    """A --config path that does not exist is one sentence telling what to pass."""
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml")
    assert str(info.value) == (
        f"Cannot read the configuration file {tmp_path / 'nope.toml'}: No such file or directory. "
        "Pass --config with an existing file."
    )


def test_secrets_come_from_the_environment_as_secretstr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets are SecretStr, never shown in repr, and all_values lists each comma-separated one."""
    monkeypatch.setenv("CRISISCAST_TWILIO_AUTH_TOKEN", "canary-twilio-token")
    monkeypatch.setenv("CRISISCAST_WEBHOOK_SECRETS", "whsec_first1,whsec_second2")
    secrets = load_secrets()
    assert isinstance(secrets.get("twilio_auth_token"), SecretStr)
    assert "canary-twilio-token" not in repr(secrets)
    assert {"canary-twilio-token", "whsec_first1", "whsec_second2"} <= set(secrets.all_values())


def test_missing_secrets_file_is_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CRISISCAST_SECRETS_FILE naming a missing file is refused plainly."""
    monkeypatch.setenv("CRISISCAST_SECRETS_FILE", str(tmp_path / "none.env"))
    with pytest.raises(
        ConfigError, match=r"^The secrets file .* does not exist; fix CRISISCAST_SECRETS_FILE\.$"
    ):
        load_secrets()


def test_secrets_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .env-style secrets file provides the same variables as the environment."""
    path = tmp_path / "secrets.env"
    path.write_text("CRISISCAST_FACEBOOK_PAGE_TOKEN=from-the-file-123\n", encoding="utf-8")
    monkeypatch.delenv("CRISISCAST_FACEBOOK_PAGE_TOKEN", raising=False)
    monkeypatch.setenv("CRISISCAST_SECRETS_FILE", str(path))
    token = load_secrets().get("facebook_page_token")
    assert token is not None and token.get_secret_value() == "from-the-file-123"
    assert Secrets().get("facebook_page_token") is None
