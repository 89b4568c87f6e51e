"""The SMS preview: the text per language, its encoding and segments, who gets it, and the cost.

The recipients are counted from the contacts file exactly as the channel selects them
(``SmsChannel.recipients``); the rows the channel would skip are reported as
``contact_problems``. A contacts file that cannot be read is a ``UserError`` (the preview
shows it as the channel's error).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from crisiscast.adapt.languages import contact_language
from crisiscast.channels.base import RenderContext
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.config import Settings
from crisiscast.contacts import load_contacts
from crisiscast.message import CrisisMessage, Status

__all__ = ["SmsPreview", "SmsTextPreview", "preview_sms", "sms_recipients_by_language"]


@dataclass(frozen=True, slots=True)
class SmsTextPreview:
    language: str
    contact_languages: tuple[str, ...]
    text: str
    encoding: str
    segments: int
    characters: int
    dropped: tuple[str, ...]
    recipients: int
    cost: float | None

    @property
    def segments_total(self) -> int:
        return self.recipients * self.segments


@dataclass(frozen=True, slots=True)
class SmsPreview:
    segment_budget: int
    smart_encoding: bool
    price_per_segment: float | None
    texts: tuple[SmsTextPreview, ...]
    contact_problems: tuple[str, ...] = ()

    @property
    def recipients(self) -> int:
        return sum(t.recipients for t in self.texts)

    @property
    def segments_total(self) -> int:
        return sum(t.segments_total for t in self.texts)

    @property
    def cost(self) -> float | None:
        return _cost(self.segments_total, self.price_per_segment)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "segment_budget": self.segment_budget,
            "smart_encoding": self.smart_encoding,
            "price_per_segment": self.price_per_segment,
            "renderings": [
                {
                    "language": t.language,
                    "contact_languages": list(t.contact_languages),
                    "text": t.text,
                    "encoding": t.encoding,
                    "segments": t.segments,
                    "characters": t.characters,
                    "dropped": list(t.dropped),
                    "recipients": t.recipients,
                    "segments_total": t.segments_total,
                    "cost": t.cost,
                }
                for t in self.texts
            ],
            "recipients": self.recipients,
            "segments_total": self.segments_total,
            "cost": self.cost,
        }

    def panels(self) -> Sequence[PreviewPanel]:
        panels = []
        for t in self.texts:
            dropped = f" · dropped {', '.join(t.dropped)} to fit" if t.dropped else ""
            measure = (
                f"{t.recipients} recipients · {t.encoding} · {t.segments} segments each"
                f" (budget {self.segment_budget}) · {t.characters} characters{dropped}"
            )
            panels.append(PreviewPanel(t.language, (t.text,), measure))
        return panels

    def summary(self) -> str | None:
        cost = f", about {self.cost} in segment charges" if self.cost is not None else ""
        return f"SMS: {self.recipients} recipients, {self.segments_total} segments in all{cost}"


def sms_recipients_by_language(
    message: CrisisMessage, settings: Settings, config: SmsConfig
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Who the SMS channel would text: (count per contact language, skipped contact rows).

    Raises ``UserError`` when the contacts file cannot be read or no audience resolves.
    """
    from crisiscast.channels.sms.channel import SmsChannel

    contacts = load_contacts(settings.resolve(config.contacts), default_region=config.default_region)
    channel = SmsChannel(
        settings, SecretStr("preview"), exercise=message.status is not Status.ACTUAL, contacts=contacts
    )
    chosen = channel.recipients(message, RenderContext(dispatch_id="preview"))
    return dict(Counter(c.language for c in chosen)), tuple(str(p) for p in contacts.problems)


def preview_sms(message: CrisisMessage, settings: Settings, config: SmsConfig) -> SmsPreview:
    """The SMS texts per language with their measures and recipients."""
    by_contact_language, problems = sms_recipients_by_language(message, settings, config)
    return sms_preview_for(message, settings, config, by_contact_language, problems)


def sms_preview_for(
    message: CrisisMessage,
    settings: Settings,
    config: SmsConfig,
    recipients_by_language: Mapping[str, int],
    contact_problems: tuple[str, ...] = (),
) -> SmsPreview:
    """The preview for known recipient counts (by contact language; unknown languages fall
    back to the message's main language)."""
    counts: dict[str, int] = {}
    asked: dict[str, list[str]] = {}
    for language, count in recipients_by_language.items():
        rendered = contact_language(message, language)
        counts[rendered] = counts.get(rendered, 0) + count
        asked.setdefault(rendered, []).append(language)
    if not counts:
        counts[message.language] = 0
    texts = []
    for language in message.languages:
        if language not in counts:
            continue
        adapted = adapt_sms(message, language, config, settings.policy)
        segments = int(adapted.metrics["segments"])
        texts.append(
            SmsTextPreview(
                language=language,
                contact_languages=tuple(sorted(asked.get(language, []))),
                text=adapted.parts[0],
                encoding=str(adapted.metrics["encoding"]),
                segments=segments,
                characters=int(adapted.metrics["characters"]),
                dropped=tuple(adapted.metrics["dropped"]),
                recipients=counts[language],
                cost=_cost(counts[language] * segments, config.price_per_segment),
            )
        )
    return SmsPreview(
        segment_budget=config.segment_budget,
        smart_encoding=config.smart_encoding,
        price_per_segment=config.price_per_segment,
        texts=tuple(texts),
        contact_problems=contact_problems,
    )


def _cost(segments: int, price_per_segment: float | None) -> float | None:
    return None if price_per_segment is None else round(segments * price_per_segment, 4)
