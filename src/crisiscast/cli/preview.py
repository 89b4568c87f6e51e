"""``crisiscast preview FILE``: exactly what each channel will get, with its size metrics.

Nothing is sent and no secret is needed. A channel whose text breaks a policy (too long for
its budget, patient information on a public channel) is shown with the reason, and the
command exits 2, because ``send`` would refuse the same message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiscast.cli.common import EXIT_OK, EXIT_USAGE, load_config, stdout_console

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.config import Settings
    from crisiscast.message import CrisisMessage

__all__ = ["build_preview", "preview", "print_preview"]


def preview(
    file: Annotated[
        Path, typer.Argument(help="The message file (.yaml, .yml or .json).", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the preview as JSON.")] = False,
    phi_override: Annotated[
        str | None,
        typer.Option(
            "--phi-override", help="Allow text that looks like patient information, with this reason."
        ),
    ] = None,
) -> None:
    """Show what each channel will get (text, parts, lengths, SMS segments); sends nothing."""
    from crisiscast.loader import load_message

    settings, _ = load_config()
    message = load_message(file)
    data = build_preview(message, settings, phi_override=phi_override)
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_preview(stdout_console(), data)
    raise typer.Exit(EXIT_USAGE if data["problems"] else EXIT_OK)


def build_preview(
    message: CrisisMessage, settings: Settings, *, phi_override: str | None = None
) -> dict[str, Any]:
    """The preview as JSON-able data: the message summary, each channel's renderings, problems.

    ``channels[name]`` is a list of renderings ``{"language", "parts": [...], "metrics": {...}}``
    (one per language, or one bilingual rendering); ``problems[name]`` is the plain reason a
    channel cannot take this message; ``skipped[name]`` why a channel is left out.
    """
    from crisiscast.channels.registry import is_exercise, selected_channels

    names, skipped = selected_channels(settings, message)
    channels: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in names:
        try:
            channels[name] = _render(name, message, settings, allow_phi=phi_override is not None)
        except ImportError:
            problems[name] = f"the {name} adaptation is not available in this installation"
        except Exception as exc:
            from crisiscast.errors import UserError

            if not isinstance(exc, UserError):
                raise
            problems[name] = str(exc)
    recipients = _sms_recipients(message, settings) if "sms" in channels else None
    return {
        "sms_recipients": recipients,
        "message": {
            "identifier": message.identifier,
            "status": message.status.value,
            "msg_type": message.msg_type.value,
            "severity": message.severity.value,
            "headline": message.headline,
            "languages": list(message.languages),
            "audiences": list(message.audiences),
            "exercise_targets": is_exercise(message),
        },
        "channels": channels,
        "problems": problems,
        "skipped": dict(skipped),
    }


def _sms_recipients(message: CrisisMessage, settings: Settings) -> dict[str, Any]:
    """Who the SMS channel would text: the count per language, and contact rows it skips."""
    from collections import Counter

    from pydantic import SecretStr

    from crisiscast.channels.base import RenderContext
    from crisiscast.channels.registry import is_exercise
    from crisiscast.channels.sms import SmsChannel
    from crisiscast.contacts import load_contacts
    from crisiscast.errors import UserError

    cfg = settings.channels.sms
    try:
        contacts = load_contacts(settings.resolve(cfg.contacts), default_region=cfg.default_region)
        channel = SmsChannel(settings, SecretStr("preview"), exercise=is_exercise(message), contacts=contacts)
        chosen = channel.recipients(message, RenderContext(dispatch_id="preview"))
    except UserError as exc:
        return {"total": 0, "by_language": {}, "contact_problems": [], "problem": str(exc)}
    return {
        "total": len(chosen),
        "by_language": dict(Counter(c.language for c in chosen)),
        "contact_problems": [str(p) for p in contacts.problems],
    }


def _adapted(items: Any) -> list[dict[str, Any]]:
    return [{"language": a.language, "parts": list(a.parts), "metrics": dict(a.metrics)} for a in items]


def _render(
    name: str, message: CrisisMessage, settings: Settings, *, allow_phi: bool
) -> list[dict[str, Any]]:
    from crisiscast import adapt

    policy = settings.policy
    if name == "twitter":
        max_parts = settings.channels.twitter.max_thread_parts
        return _adapted(adapt.adapt_x(message, policy, max_parts=max_parts, allow_phi=allow_phi))
    if name == "facebook":
        return _adapted(adapt.adapt_facebook(message, policy, allow_phi=allow_phi))
    if name == "sms":
        sms = settings.channels.sms
        return _adapted([adapt.adapt_sms(message, lang, sms, policy) for lang in message.languages])
    document = (adapt.adapt_banner if name == "banner" else adapt.adapt_mqtt)(
        message, policy, allow_phi=allow_phi
    )
    text = json.dumps(document, ensure_ascii=False, default=str)
    shown = [str(document.get(k)) for k in ("headline", "instruction", "web") if document.get(k)]
    for lang, words in (document.get("translations") or {}).items():
        shown.append(f"[{lang}] " + " · ".join(str(v) for v in words.values() if v))
    return [
        {
            "language": str(document.get("language", message.language)),
            "parts": ["\n".join(shown)],
            "metrics": {"severity": document.get("severity"), "json_bytes": len(text.encode("utf-8"))},
            "document": document,
        }
    ]


_TITLES = {
    "twitter": "X (Twitter)",
    "facebook": "Facebook Page",
    "sms": "SMS (per recipient)",
    "banner": "Website banner",
    "mqtt": "MQTT signage",
}


def print_preview(console: Console, data: Mapping[str, Any]) -> None:
    """Print a preview (``build_preview``'s data) for people."""
    from rich.panel import Panel
    from rich.text import Text

    msg = data["message"]
    where = "exercise targets only" if msg["exercise_targets"] else "PRODUCTION targets"
    console.print(
        Text.assemble(
            (f"{msg['status']} {msg['msg_type']}", "bold"),
            f" · {msg['severity']} · languages {', '.join(msg['languages'])}",
            f" · audiences {', '.join(msg['audiences'])} · ",
            (where, "bold red" if not msg["exercise_targets"] else "bold green"),
        )
    )
    for name, renderings in data["channels"].items():
        for rendering in renderings:
            parts = rendering["parts"]
            body = Text()
            for i, part in enumerate(parts, 1):
                if len(parts) > 1:
                    body.append(f"[{i}/{len(parts)}] ", style="dim")
                body.append(part + ("\n\n" if i < len(parts) else ""))
            title = f"{_TITLES.get(name, name)} · {rendering['language']}"
            console.print(
                Panel(body, title=title, title_align="left", subtitle=_metrics(rendering["metrics"]))
            )
    recipients = data.get("sms_recipients")
    if recipients is not None:
        if recipients.get("problem"):
            console.print(Text(f"SMS recipients: {recipients['problem']}", style="bold red"))
        else:
            by_language = ", ".join(f"{lang} {n}" for lang, n in recipients["by_language"].items())
            console.print(
                Text(f"SMS recipients: {recipients['total']} ({by_language or 'none'})", style="bold")
            )
        skipped_rows = recipients.get("contact_problems") or []
        for row in skipped_rows[:5]:
            console.print(Text(f"  contacts file, skipped {row}", style="yellow"))
        if len(skipped_rows) > 5:
            console.print(Text(f"  … and {len(skipped_rows) - 5} more skipped rows", style="yellow"))
    for name, reason in data["problems"].items():
        console.print(Text(f"{_TITLES.get(name, name)}: cannot send: {reason}", style="bold red"))
    for name, reason in data["skipped"].items():
        console.print(Text(f"{_TITLES.get(name, name)}: left out: {reason}", style="yellow"))


def _metrics(metrics: Mapping[str, Any]) -> str:
    shown = []
    for key, value in metrics.items():
        if value in (None, "", [], ()):
            continue
        shown_value = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else value
        shown.append(f"{key.replace('_', ' ')}: {shown_value}")
    return " · ".join(shown)
