"""The voice preview: the exact spoken script per language, who is called, and how long the
calls take to start at the account's calls-per-second.

The recipients are counted exactly as the channel selects them (``VoiceChannel.recipients``);
the rows it would skip are ``contact_problems``. Twilio starts 1 call per second per account
by default, so the summary says, e.g., "500 calls at 1 call/s: the last starts in about
8 min 20 s".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from crisiscast.channels.base import RenderContext
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.voice.config import VoiceConfig
from crisiscast.config import Settings
from crisiscast.contacts import load_contacts
from crisiscast.message import CrisisMessage, Status

__all__ = ["VoicePreview", "VoiceScriptPreview", "preview_voice", "start_duration", "start_time_s"]


def start_time_s(calls: int, calls_per_s: float | None) -> float:
    """Seconds until the last of ``calls`` starts at ``calls_per_s`` (0 when unlimited)."""
    if not calls_per_s or calls <= 0:
        return 0.0
    return calls / calls_per_s


def start_duration(seconds: float) -> str:
    """ "8 min 20 s", "45 s", "1 h 5 min"."""
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@dataclass(frozen=True, slots=True)
class VoiceScriptPreview:
    language: str
    voice: str  # "Polly.Lupe-Neural (es-US)"
    lines: tuple[str, ...]
    voicemail: str
    dropped: tuple[str, ...]
    recipients: int


@dataclass(frozen=True, slots=True)
class VoicePreview:
    calls_per_s: float | None
    redial_attempts: int
    redial_wait_s: float
    scripts: tuple[VoiceScriptPreview, ...]
    contact_problems: tuple[str, ...] = ()

    @property
    def recipients(self) -> int:
        return sum(s.recipients for s in self.scripts)

    @property
    def start_time_s(self) -> float:
        return start_time_s(self.recipients, self.calls_per_s)

    def pacing(self) -> str:
        n = self.recipients
        calls = f"{n} call{'s' if n != 1 else ''}"
        if not self.calls_per_s:
            return f"{calls}, all started at once (no calls-per-second limit is configured)"
        rate = f"{self.calls_per_s:g} call{'s' if self.calls_per_s != 1 else ''}/s"
        return f"{calls} at {rate}: the last starts in about {start_duration(self.start_time_s)}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "calls_per_s": self.calls_per_s,
            "start_time_s": self.start_time_s,
            "redial_attempts": self.redial_attempts,
            "redial_wait_s": self.redial_wait_s,
            "scripts": [
                {
                    "language": s.language,
                    "voice": s.voice,
                    "lines": list(s.lines),
                    "voicemail": s.voicemail,
                    "dropped": list(s.dropped),
                    "recipients": s.recipients,
                }
                for s in self.scripts
            ],
            "recipients": self.recipients,
            "pacing": self.pacing(),
        }

    def panels(self) -> Sequence[PreviewPanel]:
        panels = []
        for s in self.scripts:
            dropped = f" · dropped {', '.join(s.dropped)} to fit" if s.dropped else ""
            measure = f"{s.recipients} calls · {s.voice} · message said twice{dropped}"
            text = "\n".join(s.lines) + f"\n[voicemail] {s.voicemail}"
            panels.append(PreviewPanel(s.language, (text,), measure))
        return panels

    def summary(self) -> str | None:
        redial = (
            f"; busy or unanswered numbers are called again after {start_duration(self.redial_wait_s)}, "
            f"at most {self.redial_attempts} times"
            if self.redial_attempts
            else ""
        )
        return f"Voice: {self.pacing()}{redial}"


def preview_voice(message: CrisisMessage, settings: Settings, config: VoiceConfig) -> VoicePreview:
    """The spoken scripts per language with who is called and how long the calls take to start."""
    from crisiscast.channels.voice.channel import VoiceChannel

    contacts = load_contacts(settings.resolve(config.contacts), default_region=config.default_region)
    channel = VoiceChannel(
        settings, SecretStr("preview"), exercise=message.status is not Status.ACTUAL, contacts=contacts
    )
    chosen = channel.recipients(message, RenderContext(dispatch_id="preview"))
    by_language: Counter[str] = Counter()
    scripts = {}
    for _, language in chosen:
        script = channel.script_for(message, language)
        by_language[script.language] += 1
        scripts[script.language] = script
    if not scripts:
        script = channel.script_for(message, message.language)
        scripts[script.language] = script
    gather = bool(channel.callback_base)
    previews = tuple(
        VoiceScriptPreview(
            language=lang,
            voice=f"{s.voice.voice} ({s.voice.language})",
            lines=tuple(s.lines(gather=gather)),
            voicemail=s.voicemail,
            dropped=s.dropped,
            recipients=by_language[lang],
        )
        for lang, s in scripts.items()
    )
    return VoicePreview(
        calls_per_s=config.max_requests_per_s,
        redial_attempts=config.redial_attempts,
        redial_wait_s=config.redial_wait_s,
        scripts=previews,
        contact_problems=tuple(str(p) for p in contacts.problems),
    )
