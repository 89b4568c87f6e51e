"""Configuration: one TOML file for everything but secrets; secrets only from the environment.

Where the file is found: ``--config``, else ``$CRISISCAST_CONFIG``, else
``config/crisiscast.toml`` in the working directory, else the embedded sandbox defaults
(``crisiscast/defaults.toml``, the same as the shipped ``config/crisiscast.toml``).

Secrets are ``SecretStr`` read from ``CRISISCAST_*`` variables (or a ``.env``-style secrets
file named by ``CRISISCAST_SECRETS_FILE``); they never appear in the TOML file, logs,
audit rows, errors or CLI output.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crisiscast.errors import ConfigError
from crisiscast.isolation import config_overlap
from crisiscast.preflight.settings import PreflightConfig

__all__ = [
    "BannerConfig",
    "ChannelSection",
    "FacebookConfig",
    "MqttConfig",
    "PolicyConfig",
    "Secrets",
    "Settings",
    "SmsConfig",
    "StoreConfig",
    "TwitterConfig",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    url: str = "sqlite:///var/crisiscast/audit.db"
    batch_max_events: int = Field(default=2000, ge=1)


class PolicyConfig(_Section):
    actual_approvers: int = Field(default=2, ge=1)
    exercise_approvers: int = Field(default=1, ge=0)
    template_approvers: int = Field(default=0, ge=0)
    approvers: tuple[str, ...] = ()  # empty: anyone may approve
    exercise_marker: str = "EXERCISE EXERCISE EXERCISE"
    test_marker: str = "TEST"
    language_policy: str = Field(default="bilingual_if_fits", pattern="^(per_language|bilingual_if_fits)$")
    phi_patterns: tuple[str, ...] = ()
    in_doubt_policy: str = Field(default="severe_resend", pattern="^(severe_resend|resend|hold)$")


class ChannelSection(_Section):
    """What every provider channel section shares: switch, limits, retry bounds, timeout."""

    enabled: bool = True
    max_concurrency: int = Field(default=4, ge=1)
    max_requests_per_s: float | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1)
    # the deadline is the real bound; 10 sends (full-jitter back-off, 30 s cap) fit well inside
    # it, so a provider failing one request in five still delivers to every recipient
    max_attempts: int = Field(default=10, ge=1)
    deadline_s: float = Field(default=300.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)


class TwitterConfig(ChannelSection):
    api_base_url: str = "https://api.x.com"
    max_thread_parts: int = Field(default=4, ge=1, le=25)
    # The exercise account is the one whose CRISISCAST_X_EXERCISE_* credentials are set; its API
    # host is api_base_url unless set here (the sandbox runs the drill account on its own port).
    exercise_api_base_url: str | None = None


class FacebookConfig(ChannelSection):
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    page_id: str = ""
    exercise_page_id: str | None = None


class SmsConfig(ChannelSection):
    api_base_url: str = "https://api.twilio.com"
    account_sid: str = ""
    messaging_service_sid: str | None = None
    from_number: str | None = None
    contacts: str = "config/contacts.csv"
    default_region: str = "US"
    validity_period_s: int = Field(default=3600, ge=1, le=36000)
    status_callback_url: str | None = None
    segment_budget: int = Field(default=3, ge=1, le=10)
    price_per_segment: float | None = None
    smart_encoding: bool = True
    max_concurrency: int = Field(default=50, ge=1)
    max_requests_per_s: float | None = Field(default=100.0, gt=0)
    burst: int = Field(default=10, ge=1)


class BannerConfig(_Section):
    enabled: bool = True
    path: str = "var/banner.json"
    exercise_path: str | None = "var/banner-exercise.json"
    cms_url: str | None = None  # optional: PUT the banner JSON here too
    exercise_cms_url: str | None = None  # exercise banners go to a CMS only when this is set
    request_timeout_s: float = Field(default=10.0, gt=0)  # the CMS PUT


class MqttConfig(_Section):
    enabled: bool = True
    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "hospital/crisiscast"
    exercise_topic_prefix: str | None = "hospital/crisiscast-exercise"
    username: str | None = None  # password: CRISISCAST_MQTT_PASSWORD
    request_timeout_s: float = Field(default=10.0, gt=0)  # connect, and the PUBACK of one publish
    max_attempts: int = Field(default=10, ge=1)
    deadline_s: float = Field(default=120.0, gt=0)


class ChannelsConfig(_Section):
    twitter: TwitterConfig = TwitterConfig()
    facebook: FacebookConfig = FacebookConfig()
    sms: SmsConfig = SmsConfig()
    banner: BannerConfig = BannerConfig()
    mqtt: MqttConfig = MqttConfig()


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    public_url: str | None = None  # how Twilio reaches us (status callback signatures)
    body_max_bytes: int = Field(default=65536, ge=1024)
    webhook_tolerance_s: int = Field(default=300, ge=1)


def _default_audiences() -> dict[str, tuple[str, ...]]:
    return {"all-staff": ("staff",), "exercise": ("drill-team",)}


class Settings(_Section):
    """Everything crisiscast is configured with (secrets apart)."""

    store: StoreConfig = StoreConfig()
    policy: PolicyConfig = PolicyConfig()
    channels: ChannelsConfig = ChannelsConfig()
    server: ServerConfig = ServerConfig()
    preflight: PreflightConfig = PreflightConfig()  # the quality gate's targets, the forecast's budgets
    audiences: dict[str, tuple[str, ...]] = Field(default_factory=_default_audiences)
    exercise_audiences: tuple[str, ...] = ("exercise",)
    templates_dir: str = "config/templates"
    base_dir: str = "."  # relative paths in the file are taken from here (default: working dir)

    @model_validator(mode="after")
    def _exercise_never_production(self) -> Settings:
        for name in self.exercise_audiences:
            if name not in self.audiences:
                raise ValueError(f"exercise audience {name!r} is not defined in [audiences]")
        overlap = config_overlap(self)  # targets compared as the channels use them (crisiscast.isolation)
        if overlap is not None:
            raise ValueError(overlap)
        return self

    def resolve(self, path: str) -> Path:
        """A path from the file, taken relative to ``base_dir``."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p


class Secrets(BaseSettings):
    """Secrets, only from the environment (or the secrets file). Never logged."""

    model_config = SettingsConfigDict(env_prefix="CRISISCAST_", extra="ignore", frozen=True, env_file=None)

    x_consumer_key: SecretStr | None = None
    x_consumer_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_exercise_consumer_key: SecretStr | None = None
    x_exercise_consumer_secret: SecretStr | None = None
    x_exercise_access_token: SecretStr | None = None
    x_exercise_access_token_secret: SecretStr | None = None
    facebook_page_token: SecretStr | None = None
    facebook_exercise_page_token: SecretStr | None = None
    twilio_auth_token: SecretStr | None = None
    webhook_secrets: SecretStr | None = None  # comma-separated whsec_… (two during rotation)
    api_tokens: SecretStr | None = None  # comma-separated name=token (a person) or token (read-only)
    mqtt_password: SecretStr | None = None
    db_password: SecretStr | None = None

    def all_values(self) -> list[str]:
        """Every secret value that is set (for redaction)."""
        out: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                parts = raw.split(",")
                if name == "api_tokens":  # name=token entries: the token alone too
                    parts += [p.partition("=")[2].strip() for p in parts]
                out.extend(v for v in (raw, *parts) if len(v.strip()) >= 6)
        return out


def load_secrets() -> Secrets:
    """Read secrets from the environment, or the file named by ``CRISISCAST_SECRETS_FILE``."""
    secrets_file = os.environ.get("CRISISCAST_SECRETS_FILE")
    if secrets_file and not Path(secrets_file).is_file():
        raise ConfigError(f"The secrets file {secrets_file} does not exist; fix CRISISCAST_SECRETS_FILE.")
    try:
        return Secrets(_env_file=secrets_file) if secrets_file else Secrets()
    except ValidationError as exc:
        raise ConfigError(f"A secret in the environment is not valid: {_first_error(exc)}.") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{where!r} is not a known key{_closest_key(err['loc'])}; remove it or fix its spelling"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _closest_key(loc: tuple[int | str, ...]) -> str:
    """`` (did you mean 'x'?)`` naming the known key closest to the unknown ``loc[-1]``, or ``""``."""
    import difflib

    model: Any = Settings
    for part in loc[:-1]:
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        field = model.model_fields.get(str(part)) if is_model else None
        model = field.annotation if field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def default_config_text() -> str:
    """The embedded sandbox configuration (also shipped as ``config/crisiscast.toml``)."""
    return resources.files("crisiscast").joinpath("defaults.toml").read_text(encoding="utf-8")


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the configuration; a problem is one plain ``ConfigError`` sentence."""
    chosen = path or os.environ.get("CRISISCAST_CONFIG")
    if chosen is None and Path("config/crisiscast.toml").is_file():
        chosen = "config/crisiscast.toml"
    if chosen is None:
        return _parse(default_config_text(), "the embedded default configuration")
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the configuration file {file}: {exc.strerror or exc}. "
            "Pass --config with an existing file."
        ) from None
    return _parse(text, str(file))


def _parse(text: str, origin: str) -> Settings:
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The configuration {origin} is not valid TOML: {exc}.") from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"The configuration {origin} is invalid: {_first_error(exc)}.") from None
