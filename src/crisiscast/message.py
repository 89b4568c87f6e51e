"""The crisis message: one approved message, aligned with CAP 1.2 (OASIS Common Alerting Protocol).

A ``CrisisMessage`` is what an incident commander writes (or a template produces, or a CAP
alert carries). It holds the text once in its main ``language`` and optionally in
``translations`` (CAP: one ``info`` block per language). Channels adapt it; nothing here
knows about channels.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from crisiscast.escalation.policy import EscalationStep, policy_problem
from crisiscast.rollcall.poll import Poll
from crisiscast.safe_text import problem

__all__ = [
    "Certainty",
    "CrisisMessage",
    "MessageText",
    "MsgType",
    "Severity",
    "Status",
    "TemplateRef",
    "Urgency",
]


class Status(StrEnum):
    """CAP ``status``: who the message is for."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    TEST = "Test"


class MsgType(StrEnum):
    """CAP ``msgType``: a new alert, an update of one, or its cancellation (all-clear)."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


def _web_link(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith(("https://", "http://")) or " " in value:
        raise ValueError("must be a web address starting with https://")
    return value


WebLink = Annotated[str | None, AfterValidator(_web_link)]


def _one_line(value: str) -> str:
    reason = problem(value)
    if reason is not None:
        raise ValueError(reason)
    return value


def _lines(value: str) -> str:
    reason = problem(value, multiline=True)
    if reason is not None:
        raise ValueError(reason)
    return value


def _crlf_to_lf(value: object) -> object:
    return value.replace("\r\n", "\n") if isinstance(value, str) else value
MAX_EXPIRY_S = 2**32 - 1  # the largest MQTT message expiry interval


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone, for example 2026-11-28T14:05:00+00:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 or 9999-12-31T23:59-05:00 leave datetime's range
        raise ValueError("is outside the dates crisiscast can handle (years 1 to 9999 in UTC)") from None


def _safe_one_line_validator(cls: type[BaseModel], value: str | None) -> str | None:
    """Refuse control, direction and invisible characters (see ``crisiscast.safe_text``)."""
    return None if value is None else _one_line(value)


def _safe_lines_validator(cls: type[BaseModel], value: str) -> str:
    """As ``_safe_one_line_validator``, but line breaks are allowed."""
    return _lines(value)


def _crlf_validator(cls: type[BaseModel], value: object) -> object:
    """Windows line ends (CR LF) become plain line breaks before the check."""
    return _crlf_to_lf(value)


class MessageText(BaseModel):
    """The words of a message in one language (a CAP ``info`` block's text)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    headline: str = Field(min_length=1, max_length=160)
    description: str = Field(default="", max_length=4000)
    instruction: str = Field(default="", max_length=2000)
    web: WebLink = None

    _safe_lines = field_validator("headline", "web")(_safe_one_line_validator)
    _safe_text = field_validator("description", "instruction")(_safe_lines_validator)
    _crlf = field_validator("description", "instruction", mode="before")(_crlf_validator)


class TemplateRef(BaseModel):
    """Which pre-approved template produced a message (recorded in the audit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: int
    content_hash: str
    approved_by: str = ""


class CrisisMessage(BaseModel):
    """One crisis message, CAP 1.2 shaped. Immutable once built.

    ``channels`` None means every enabled channel. ``audiences`` name audience groups from
    the configuration (SMS recipients are resolved from them). ``channel_text`` maps a channel
    name to its own words per language (a template's per-channel wording); a channel or
    language it leaves out uses the shared text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    identifier: str = Field(default_factory=lambda: f"crisiscast-{uuid.uuid4()}", min_length=1)
    sender: str = Field(default="crisiscast", min_length=1)
    sent: datetime = Field(default_factory=lambda: datetime.now(UTC))
    status: Status
    msg_type: MsgType = MsgType.ALERT
    references: tuple[str, ...] = ()
    event: str = Field(default="", max_length=120)
    severity: Severity = Severity.UNKNOWN
    urgency: Urgency = Urgency.UNKNOWN
    certainty: Certainty = Certainty.UNKNOWN
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    headline: str = Field(min_length=1, max_length=160)
    description: str = Field(default="", max_length=4000)
    instruction: str = Field(default="", max_length=2000)
    web: WebLink = None
    translations: dict[str, MessageText] = Field(default_factory=dict)
    channel_text: dict[str, dict[str, MessageText]] = Field(default_factory=dict)
    audiences: tuple[str, ...] = ("all-staff",)
    channels: tuple[str, ...] | None = None
    expires: datetime | None = None
    template: TemplateRef | None = None
    poll: Poll | None = None  # numbered answers staff reply with (crisiscast.rollcall)
    escalation: tuple[EscalationStep, ...] = ()  # steps for who has not answered (crisiscast.escalation)

    @field_validator("sent", "expires")
    @classmethod
    def _check_aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    _safe_lines = field_validator("identifier", "sender", "event", "headline", "web")(
        _safe_one_line_validator
    )
    _safe_text = field_validator("description", "instruction")(_safe_lines_validator)
    _crlf = field_validator("description", "instruction", mode="before")(_crlf_validator)

    @field_validator("references", "audiences", "channels")
    @classmethod
    def _safe_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for item in value or ():
            _one_line(item)
        return value

    @field_validator("translations", "channel_text")
    @classmethod
    def _safe_keys(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            _one_line(key)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> CrisisMessage:
        if self.expires is not None and self.expires <= self.sent:
            raise ValueError("expires must be later than sent; set a later expires or leave it out")
        if self.expires is not None and (self.expires - self.sent).total_seconds() > MAX_EXPIRY_S:
            # MQTT carries the expiry as a 4-byte number of seconds; a later one cannot be sent
            raise ValueError("expires is more than 136 years after sent; set a nearer one or leave it out")
        if self.msg_type is not MsgType.ALERT and not self.references:
            raise ValueError(f"a {self.msg_type.value} must name the message it refers to in references")
        if self.language in self.translations:
            raise ValueError(f"translations repeats the main language {self.language!r}")
        self._check_escalation()
        for channel, texts in self.channel_text.items():
            for language in texts:
                if language not in self.languages:
                    raise ValueError(f"channel_text.{channel} has {language!r} text but the message has none")
        return self

    def _check_escalation(self) -> None:
        if self.escalation and self.msg_type is not MsgType.ALERT:
            raise ValueError(f"a {self.msg_type.value} does not escalate; remove its escalation steps")
        reason = policy_problem(
            self.escalation,
            has_poll=self.poll is not None,
            deadline_min=self.poll.deadline_min if self.poll is not None else None,
        )
        if reason is not None:
            raise ValueError(reason)

    @property
    def languages(self) -> tuple[str, ...]:
        """The main language first, then the translations in the order given."""
        return (self.language, *self.translations)

    def text(self, language: str | None = None) -> MessageText:
        """The message's words in ``language``, falling back to the main language."""
        if language is not None and language in self.translations:
            return self.translations[language]
        return MessageText(
            headline=self.headline,
            description=self.description,
            instruction=self.instruction,
            web=self.web,
        )

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once ``expires`` has passed: an expired message is never sent."""
        return self.expires is not None and (now or datetime.now(UTC)) >= self.expires
