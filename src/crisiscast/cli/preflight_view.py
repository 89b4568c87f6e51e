"""The preflight part of the preview: the quality gate's findings and the SMS arrival forecast.

``preflight_data`` adds to the preview's JSON a ``quality`` document (``QualityReport.to_json``)
and a ``forecast`` list (one entry per channel forecast, SMS for now, from the SMS settings and
``[preflight]``). ``print_preflight`` shows both to people. ``quality_refusal`` is the
sentence ``send`` stops with when an Actual free-text message fails the gate and no
``--quality-override REASON`` was given (a drill goes, its findings shown);
``quality_approval`` is what the audit's approval record keeps when one was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crisiscast.channels.registry import spec_for
from crisiscast.jsontypes import JsonObject
from crisiscast.message import Status
from crisiscast.preflight import check_message
from crisiscast.preflight.forecast import forecast, retry_tail_s, sms_load, start_s_for

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.adapt.preview import Preview
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["preflight_data", "print_preflight", "quality_approval", "quality_refusal"]


def preflight_data(
    message: CrisisMessage, settings: Settings, preview: Preview
) -> tuple[dict[str, object], list[JsonObject]]:
    """The quality gate's findings (JSON) and the arrival forecasts, for the preview."""
    languages = [
        lang
        for channel in preview.channels.values()
        for text in getattr(channel, "texts", ())
        for lang in getattr(text, "contact_languages", ())
    ]
    report = check_message(message, settings.preflight, languages)
    forecasts = [
        item
        for name, channel in preview.channels.items()
        for item in _forecasts(message, settings, name, channel)
    ]
    return report.to_json(), forecasts


def _forecasts(
    message: CrisisMessage, settings: Settings, name: str, channel: ChannelPreview
) -> list[JsonObject]:
    """The forecast of a channel whose preview counts recipients and segments (texts to staff)."""
    recipients = int(getattr(channel, "recipients", 0) or 0)
    texts = getattr(channel, "texts", ())
    if not recipients or not texts:
        return []
    spec = spec_for(name)
    cfg, pre = spec.config(settings), settings.preflight
    segments = max((int(getattr(t, "segments", 1)) for t in texts), default=1)
    load = sms_load(
        recipients,
        segments,
        sender=pre.sms_sender,
        numbers=pre.sms_numbers,
        segments_per_s=pre.sms_segments_per_s,
        requests_per_s=cfg.max_requests_per_s,
        burst=cfg.burst,
        start_s=start_s_for(
            recipients, dispatch_start_s=pre.dispatch_start_s, plan_s_per_recipient=pre.plan_s_per_recipient
        ),
        failure_rate=pre.expected_failure_rate,
        max_attempts=cfg.max_attempts,
        retry_tail=retry_tail_s(cfg.max_attempts, cfg.deadline_s),
        channel=name,
        label=spec.title,
    )
    expires_in_s = None
    if message.expires is not None:
        expires_in_s = (message.expires - max(message.sent, datetime.now(UTC))).total_seconds()
    budget_s = pre.budget_s(message.urgency.value, message.severity.value)
    return [
        {
            "channel": f.channel,
            "recipients": f.recipients,
            "first_s": round(f.first_s, 1),
            "p50_s": round(f.p50_s, 1),
            "p95_s": round(f.p95_s, 1),
            "max_s": round(f.max_s, 1),
            "budget_s": budget_s,
            "sentence": f.sentence,
            "warnings": list(f.warnings),
        }
        for f in forecast([load], budget_s=budget_s, expires_in_s=expires_in_s)
    ]


_MARK = {True: "✓", False: "✗"}


def print_preflight(console: Console, data: Preview) -> None:
    """Print the quality gate (verdict, elements and readability per language, findings) and the forecast."""
    from rich.text import Text

    quality = data.quality
    if quality:
        console.print(Text(quality["summary"], style="bold green" if quality["passed"] else "bold red"))
        for lang in quality["languages"]:
            marks = " ".join(f"{name} {_MARK[e['present']]}" for name, e in lang["elements"].items())
            r = lang["readability"]
            grade = f"grade {r['grade']:g} ({r['formula']})" if r["grade"] is not None else "no grade formula"
            console.print(
                f"  {lang['language']}: {marks} · {grade}, {r['sentences']} sentences, {r['words']} words",
                markup=False,
                soft_wrap=True,
            )
        for f in quality["findings"]:
            where = f" — “{f['sentence']}”" if f["sentence"] else ""
            style = "red" if f["level"] == "error" else "yellow"
            console.print(
                Text(f"  {f['level']} [{f['language']}] {f['check']}: {f['detail']}{where}", style=style)
            )
    for item in data.forecast:
        console.print(Text(f"Forecast: {item['sentence']}", style="bold"))
        for warning in item["warnings"]:
            console.print(Text(f"  warning: {warning}", style="bold yellow"))


def quality_refusal(
    message: CrisisMessage,
    quality: Mapping[str, Any],
    override: str | None,
    *,
    how: str = "with --quality-override REASON",
) -> str | None:
    """The sentence ``send`` stops with (``quality`` is the preview's ``quality``), or None when it may go;
    ``how`` says how to give a reason where the caller is (the API's and the console's own words)."""
    if override is not None and not override.strip():
        return "--quality-override needs a reason, for example --quality-override 'no time to reword'."
    if override is not None or quality.get("passed", True):
        return None
    if message.status is not Status.ACTUAL or message.template is not None:
        return None  # a drill goes with its findings shown; a template passed the gate when it loaded
    first = next(f for f in quality["findings"] if f["level"] == "error")
    where = f"[{first['language']}] {first['detail']}"
    return (
        f"Nothing was sent: this Actual message fails the quality gate ({where}) "
        f"Reword it, or send it anyway {how} (the reason is recorded in the audit)."
    )


def quality_approval(quality: Mapping[str, Any], override: str | None) -> JsonObject:
    """What the audit's approval record keeps: the override reason and the findings it overrode."""
    if override is None:
        return {}
    return {
        "quality_override": override,
        "quality_findings": [
            f"[{f['language']}] {f['check']}: {f['detail']}" for f in quality.get("findings", [])
        ],
    }
