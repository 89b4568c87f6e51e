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
from crisiscast.roster.config import RosterConfig

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "ChannelSection",
    "ChannelsConfig",
    "PolicyConfig",
    "Secrets",
    "Settings",
    "StoreConfig",
    "load_secrets",
    "load_settings",
    "secrets_from",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    url: str = "sqlite:///var/crisiscast/audit.db"
    batch_max_events: int = Field(default=2000, ge=1)
    # deliveries per plan transaction; a dispatch starts sending once its first chunk is durable
    plan_chunk_size: int = Field(default=1000, ge=1)
    # the first chunk is smaller, so the first texts leave sooner (the rest is written meanwhile)
    plan_first_chunk_size: int = Field(default=200, ge=1)
    # A group that may read the audit database, log file and exports (0640); none: 0600
    file_group: str | None = None
    # signed checkpoints (crisiscast.audit.checkpointer); no key: the audit is unsigned
    signing_key_file: str = ""
    public_key_file: str = ""
    checkpoint_file: str = "var/crisiscast/audit-checkpoints.jsonl"
    checkpoint_every_s: float = Field(default=10.0, gt=0)
    # parsed contacts files kept between commands (crisiscast.contacts_cache, owner-only); "": none
    contacts_cache_dir: str = "var/crisiscast/contacts-cache"
    witnesses: tuple[str, ...] = ()  # http(s)://… (POST) or mqtt://host:port/topic (retained)
    # PostgreSQL least privilege: crisiscast runs as the role in ``url`` (its password in the secret
    # ``password_secret``); ``db migrate`` connects as the tables' owner (``owner_url``, password
    # CRISISCAST_DB_PASSWORD) and can create that role (``--app-role``).
    owner_url: str | None = None
    password_secret: str = Field(default="db_password", pattern="^db_(app_)?password$")


class PolicyConfig(_Section):
    actual_approvers: int = Field(default=2, ge=1)
    exercise_approvers: int = Field(default=1, ge=0)
    template_approvers: int = Field(default=0, ge=0)
    approvers: tuple[str, ...] = ()  # empty: anyone may approve
    # OS accounts shared by several people, where $CRISISCAST_OPERATOR names the person (audited)
    shared_console_accounts: tuple[str, ...] = ()
    exercise_marker: str = "EXERCISE EXERCISE EXERCISE"
    test_marker: str = "TEST"
    language_policy: str = Field(default="bilingual_if_fits", pattern="^(per_language|bilingual_if_fits)$")
    phi_patterns: tuple[str, ...] = ()
    in_doubt_policy: str = Field(default="severe_resend", pattern="^(severe_resend|resend|hold)$")


# Defaults every channel shares, in one place (``ChannelLimits`` and ``RetryPolicy`` read them).
DEFAULT_MAX_CONCURRENCY = 4
DEFAULT_BURST = 1
# the deadline is the real bound; 10 sends (full-jitter back-off, 30 s cap) fit well inside
# it, so a provider failing one request in five still delivers to every recipient
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_DEADLINE_S = 300.0
DEFAULT_REQUEST_TIMEOUT_S = 10.0


class ChannelSection(_Section):
    """What every channel's section shares: switch, limits, retry bounds, timeout.

    Each channel's own section (``crisiscast.channels.<name>.config``) inherits this one and
    may change a default (SMS sends 50 at once; a state file one at a time).
    """

    enabled: bool = True
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    max_requests_per_s: float | None = Field(default=None, gt=0)
    burst: int = Field(default=DEFAULT_BURST, ge=1)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    deadline_s: float = Field(default=DEFAULT_DEADLINE_S, gt=0)
    request_timeout_s: float = Field(default=DEFAULT_REQUEST_TIMEOUT_S, gt=0)


class ChannelsConfig(_Section):
    """``[channels.<name>]``: one section per registered channel (``crisiscast.channels.registry``).

    Validated against the registry at load time, so a channel package added to the registry
    brings its section with it; an unknown section is refused with the closest known name.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _per_channel(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, ChannelsConfig):
            return data
        from pydantic import create_model

        from crisiscast.channels.registry import specs

        fields: dict[str, Any] = {s.name: (s.config_model, s.config_model()) for s in specs()}
        model: type[BaseModel] = create_model("ChannelsConfig", __base__=_Section, **fields)
        validated = model.model_validate(data if data is not None else {})
        return handler({name: getattr(validated, name) for name in fields})

    def section(self, name: str) -> ChannelSection:
        """The section of channel ``name`` (``KeyError`` for a channel that is not registered)."""
        extra = self.model_extra or {}
        section = extra[name]
        assert isinstance(section, ChannelSection)
        return section

    def names(self) -> tuple[str, ...]:
        return tuple(self.model_extra or {})


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    public_url: str | None = None  # how Twilio reaches us (status callback signatures)
    body_max_bytes: int = Field(default=65536, ge=1024)
    webhook_tolerance_s: int = Field(default=300, ge=1)
    # a sender's `sent` further than this from crisiscast's clock is re-based on receipt
    sender_clock_skew_s: int = Field(default=300, ge=1)
    # Slow clients (crisiscast.server.connections): a request head must arrive within
    # header_timeout_s of connecting or of the previous response; its body within body_timeout_s.
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=512, ge=1)
    metrics_require_token: bool = False  # /metrics needs any API token (Authorization: Bearer)


def _default_audiences() -> dict[str, tuple[str, ...]]:
    return {"all-staff": ("staff",), "exercise": ("drill-team",)}


class Settings(_Section):
    """Everything crisiscast is configured with (secrets apart)."""

    store: StoreConfig = StoreConfig()
    policy: PolicyConfig = PolicyConfig()
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    server: ServerConfig = ServerConfig()
    preflight: PreflightConfig = PreflightConfig()  # the quality gate's targets, the forecast's budgets
    audiences: dict[str, tuple[str, ...]] = Field(default_factory=_default_audiences)
    exercise_audiences: tuple[str, ...] = ("exercise",)
    roster: RosterConfig = RosterConfig()  # on-duty audiences and the on-call schedule (crisiscast.roster)
    templates_dir: str = "config/templates"
    base_dir: str = "."  # relative paths in the file are taken from here (default: working dir)

    @model_validator(mode="after")
    def _exercise_never_production(self) -> Settings:
        for name in self.exercise_audiences:
            if name not in self.audiences:
                raise ValueError(f"exercise audience {name!r} is not defined in [audiences]")
        both = sorted(set(self.audiences) & set(self.roster.audiences))
        if both:
            raise ValueError(
                f"the audience {both[0]!r} is defined in both [audiences] and [roster.audiences]"
            )
        overlap = config_overlap(self)  # targets compared as the channels use them (crisiscast.isolation)
        if overlap is not None:
            raise ValueError(overlap)
        return self

    def resolve(self, path: str) -> Path:
        """A path from the file, taken relative to ``base_dir``."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p


class Secrets(BaseSettings):
    """Secrets, only from the environment (or the secrets file). Never logged.

    The fields here are crisiscast's own; each channel declares its secrets in its spec
    (``ChannelSpec.secret_names``), ``load_secrets`` reads them from the environment, and
    ``get(name)`` returns them. Every value is a ``SecretStr``.
    """

    model_config = SettingsConfigDict(env_prefix="CRISISCAST_", extra="allow", frozen=True, env_file=None)

    webhook_secrets: SecretStr | None = None  # comma-separated whsec_… (two during rotation)
    api_tokens: SecretStr | None = None  # comma-separated name=token (a person) or token (read-only)
    db_password: SecretStr | None = None
    db_app_password: SecretStr | None = None  # the least-privilege role's ([store] password_secret)

    @model_validator(mode="after")
    def _channel_secrets_are_secret(self) -> Secrets:
        for name, value in (self.model_extra or {}).items():
            if isinstance(value, str):
                self.model_extra[name] = SecretStr(value)  # type: ignore[index]
            elif value is not None and not isinstance(value, SecretStr):
                raise ValueError(f"the secret {name} must be text")
        return self

    def get(self, name: str) -> SecretStr | None:
        """The secret ``name`` (``"twilio_auth_token"``), or None when it is not set."""
        own = name in type(self).model_fields
        value = getattr(self, name, None) if own else (self.model_extra or {}).get(name)
        return value if isinstance(value, SecretStr) else None

    def all_values(self) -> list[str]:
        """Every secret value that is set (for redaction)."""
        out: list[str] = []
        names = [*type(self).model_fields, *(self.model_extra or {})]
        for name in names:
            value = self.get(name)
            if value is not None:
                raw = value.get_secret_value()
                parts = raw.split(",")
                if name == "api_tokens":  # name=token entries: the token alone too
                    parts += [p.partition("=")[2].strip() for p in parts]
                out.extend(v for v in (raw, *parts) if len(v.strip()) >= 6)
        return out


def channel_secret_names() -> tuple[str, ...]:
    """The secrets every registered channel declares."""
    from crisiscast.channels.registry import specs

    return tuple(dict.fromkeys(n for s in specs() for n in s.secret_names))


def secrets_from(values: dict[str, str], *, env_file: str | None = None) -> Secrets:
    """``Secrets`` from ``values`` (``CRISISCAST_*`` names or bare names) for the declared
    channel secrets, plus crisiscast's own from the environment (or ``env_file``)."""
    wanted = set(channel_secret_names())
    chosen: dict[str, Any] = {}
    for key, value in values.items():
        name = key.removeprefix("CRISISCAST_").lower()
        if name in wanted and value:
            chosen[name] = value
    if env_file:
        return Secrets(_env_file=env_file, **chosen)
    return Secrets(**chosen)


def load_secrets() -> Secrets:
    """Read secrets from the environment, or the file named by ``CRISISCAST_SECRETS_FILE``."""
    secrets_file = os.environ.get("CRISISCAST_SECRETS_FILE")
    if secrets_file and not Path(secrets_file).is_file():
        raise ConfigError(f"The secrets file {secrets_file} does not exist; fix CRISISCAST_SECRETS_FILE.")
    values = dict(os.environ)
    if secrets_file:
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(secrets_file).items() if v is not None})
    try:
        return secrets_from(values, env_file=secrets_file)
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

    from crisiscast.channels.registry import names, spec_for

    model: Any = Settings
    for part in loc[:-1]:
        if model is ChannelsConfig:
            model = spec_for(str(part)).config_model if str(part) in names() else None
            continue
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        field = model.model_fields.get(str(part)) if is_model else None
        model = field.annotation if field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    known = list(names()) if model is ChannelsConfig else list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
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
