"""The ``[preflight]`` configuration section: targets of the quality gate and the forecast budgets.

Every field has a default, so a configuration file without ``[preflight]`` gets a working
gate. The lists are per language (``en``, ``es`` …); a language without an entry gets no
jargon check and no readability grade, but every other check still applies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PreflightConfig"]


def _default_jargon() -> dict[str, tuple[str, ...]]:
    return {
        "en": (
            "egress", "ingress", "ambulate", "ambulatory", "decant", "nosocomial", "emergent",
            "utilize", "commence", "terminate", "personnel", "in lieu of", "proceed to", "stat",
        ),
        "es": ("deambular", "nosocomial", "efectuar", "proceder a", "en lugar de ello", "emergente"),
    }  # fmt: skip


def _default_source_words() -> dict[str, tuple[str, ...]]:
    return {
        "en": (
            "hospital",
            "facility",
            "security",
            "emergency management",
            "incident command",
            "medical center",
        ),
        "es": ("hospital", "instalación", "seguridad", "gestión de emergencias", "mando del incidente"),
    }


def _default_budgets() -> dict[str, float]:
    return {"Immediate": 300.0, "Expected": 1800.0, "Future": 7200.0, "Past": 7200.0, "Unknown": 1800.0}


class PreflightConfig(BaseModel):
    """Targets for ``crisiscast.preflight`` (``[preflight]`` in the TOML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_grade: float = Field(default=6.0, gt=0)  # US school grade (English) / years of schooling (Spanish)
    max_sentences: int = Field(default=6, ge=1)  # per language, headline + description + instruction
    max_instruction_sentences: int = Field(default=3, ge=1)
    max_words: int = Field(default=90, ge=1)
    min_caps_run_words: int = Field(default=3, ge=2)  # this many capitalised words in a row is shouting
    required_languages: tuple[str, ...] = ("en", "es")
    audience_languages: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # audience -> languages
    jargon: dict[str, tuple[str, ...]] = Field(default_factory=_default_jargon)
    source_words: dict[str, tuple[str, ...]] = Field(default_factory=_default_source_words)
    known_abbreviations: tuple[str, ...] = (
        "AM", "PM", "OK", "ID", "TV", "US", "USA", "EE", "UU", "EEUU", "N95", "PIN", "GPS", "WiFi",
    )  # fmt: skip
    # a translation this similar to the main text (0..1) is a copy
    copy_similarity: float = Field(default=0.85, gt=0, le=1)
    # the time by which the last recipient should have it, by CAP urgency and severity (tighter wins)
    urgency_budget_s: dict[str, float] = Field(default_factory=_default_budgets)
    severity_budget_s: dict[str, float] = Field(default_factory=dict)

    # the arrival forecast: the SMS sender (Twilio: long_code 1, toll_free 3, short_code 100 segments/s;
    # 10dlc needs sms_segments_per_s, the throughput of the account's brand class)
    sms_sender: Literal["long_code", "toll_free", "short_code", "10dlc"] = "long_code"
    sms_numbers: int = Field(default=1, ge=1)  # numbers in the sender pool
    sms_segments_per_s: float | None = Field(default=None, gt=0)  # overrides the sender's default
    voice_calls_per_s: float = Field(default=1.0, gt=0)
    email_per_s: float = Field(default=10.0, gt=0)
    social_posts_per_s: float = Field(default=1.0, gt=0)
    expected_failure_rate: float = Field(default=0.0, ge=0, lt=1)  # share of attempts retried
    # the fixed start of a dispatch before its first request (channels, plan, first connection) and
    # the plan's cost per delivery (render + one audit event each); measured against the sandbox
    # (docs/performance.md): 0.03-0.07 s and 80-90 microseconds with SQLite
    dispatch_start_s: float = Field(default=0.05, ge=0)
    plan_s_per_recipient: float = Field(default=0.0001, ge=0)
    # one provider request's round trip: the forecast recorded with a plan is to the provider's
    # acceptance of the last delivery (what the report measures), not to the handset
    request_latency_s: float = Field(default=0.3, ge=0)

    @model_validator(mode="after")
    def _throughput_known(self) -> PreflightConfig:
        if self.sms_sender == "10dlc" and self.sms_segments_per_s is None:
            raise ValueError("sms_sender 10dlc needs sms_segments_per_s (the brand class's throughput)")
        return self

    def languages_for(self, audiences: tuple[str, ...]) -> tuple[str, ...]:
        """The languages the audiences need: their own list when configured, else ``required_languages``."""
        chosen: list[str] = []
        for audience in audiences:
            for language in self.audience_languages.get(audience, self.required_languages):
                if language not in chosen:
                    chosen.append(language)
        return tuple(chosen or self.required_languages)

    def budget_s(self, urgency: str, severity: str) -> float | None:
        """The time by which everyone should have the message, or None when none is configured."""
        limits = [v for v in (self.urgency_budget_s.get(urgency), self.severity_budget_s.get(severity)) if v]
        return min(limits) if limits else None
