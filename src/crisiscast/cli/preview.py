"""``crisiscast preview FILE``: exactly what each channel will get, with its size metrics.

The data comes from ``crisiscast.adapt.preview.preview_message`` (the same functions the
channels render with), plus who the SMS channel would text (from the contacts file, with the
rows it skips). Nothing is sent and no secret is needed. A channel whose text breaks a policy
(too long for its budget, patient information on a public channel) is shown with the reason,
and the command exits 2, because ``send`` would refuse the same message.
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

    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["build_preview", "preview", "preview_problems", "print_preview"]


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

    settings, secrets = load_config()
    message = load_message(file)
    data = build_preview(message, settings, phi_override=phi_override, secrets=secrets)
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print_preview(stdout_console(), data)
    raise typer.Exit(EXIT_USAGE if preview_problems(data) else EXIT_OK)


def build_preview(
    message: CrisisMessage,
    settings: Settings,
    *,
    phi_override: str | None = None,
    secrets: Secrets | None = None,
) -> dict[str, Any]:
    """The preview as JSON-able data (``preview_message``'s document, see its docstring), with
    ``contact_problems``: the contacts-file rows the SMS channel skips ("line 7: …"), and
    ``quality`` and ``forecast`` (``crisiscast.cli.preflight_view``): the quality gate's
    findings and the SMS arrival forecast.

    With ``secrets``, a channel that ``send`` would leave out (a secret missing, no exercise
    account …) is moved from ``channels`` to ``skipped`` with that reason, so the operator
    sees it before confirming and is never shown a text that will not go out."""
    from crisiscast.adapt.preview import preview_message
    from crisiscast.cli.preflight_view import preflight_data

    by_language, contact_problems, sms_problem = _sms_recipients(message, settings)
    data = preview_message(message, settings, by_language, allow_phi=phi_override is not None)
    data["contact_problems"] = contact_problems
    if sms_problem is not None and "sms" in data["channels"]:
        data["channels"]["sms"] = {"error": sms_problem}
        data["errors"].append(f"sms: {sms_problem}")
    if secrets is not None:
        _leave_out_unavailable(data, message, settings, secrets)
    data.update(preflight_data(message, settings, data["channels"].get("sms"), list(by_language)))
    return data


def _leave_out_unavailable(
    data: dict[str, Any], message: CrisisMessage, settings: Settings, secrets: Secrets
) -> None:
    """Move the channels the registry cannot build for ``message`` to ``data["skipped"]``."""
    from crisiscast.channels.registry import build_channels
    from crisiscast.errors import UserError

    try:
        _, left_out = build_channels(settings, secrets, message)
    except UserError:
        return  # the same error stops send when it builds the channels; the preview still shows
    for name, reason in left_out:
        if name in data["channels"]:
            del data["channels"][name]
            data["errors"] = [e for e in data["errors"] if not e.startswith(f"{name}: ")]
            data["skipped"].append({"channel": name, "reason": reason})


def preview_problems(data: Mapping[str, Any]) -> dict[str, str]:
    """Channel name → why it cannot take the message (empty when every channel can)."""
    return {name: str(ch["error"]) for name, ch in data["channels"].items() if "error" in ch}


def _sms_recipients(
    message: CrisisMessage, settings: Settings
) -> tuple[dict[str, int], list[str], str | None]:
    """Who the SMS channel would text: (count per contact language, skipped rows, problem)."""
    from collections import Counter

    from pydantic import SecretStr

    from crisiscast.channels.base import RenderContext
    from crisiscast.channels.registry import is_exercise
    from crisiscast.channels.sms import SmsChannel
    from crisiscast.contacts import load_contacts
    from crisiscast.errors import UserError

    cfg = settings.channels.sms
    if not cfg.enabled:
        return {}, [], None
    try:
        contacts = load_contacts(settings.resolve(cfg.contacts), default_region=cfg.default_region)
        channel = SmsChannel(settings, SecretStr("preview"), exercise=is_exercise(message), contacts=contacts)
        chosen = channel.recipients(message, RenderContext(dispatch_id="preview"))
    except UserError as exc:
        return {}, [], str(exc)
    return dict(Counter(c.language for c in chosen)), [str(p) for p in contacts.problems], None


_TITLES = {
    "twitter": "X (Twitter)",
    "facebook": "Facebook Page",
    "sms": "SMS",
    "banner": "Website banner",
    "mqtt": "MQTT signage",
}


def print_preview(console: Console, data: Mapping[str, Any]) -> None:
    """Print a preview (``build_preview``'s data) for people."""
    from rich.text import Text

    msg = data["message"]
    where = "exercise targets only" if msg["exercise"] else "PRODUCTION targets"
    console.print(
        Text.assemble(
            (f"{msg['status']} {msg['msg_type']}", "bold"),
            f" · {msg['severity']} · languages {', '.join(msg['languages'])}",
            f" · expires {msg['expires_at']} · " if msg.get("expires_at") else " · ",
            (where, "bold green" if msg["exercise"] else "bold red"),
        )
    )
    for name, channel in data["channels"].items():
        title = _TITLES.get(name, name)
        if "error" in channel:
            console.print(Text(f"{title}: cannot send: {channel['error']}", style="bold red"))
        elif "document" in channel:
            _print_document(console, title, channel["document"])
        elif name == "sms":
            _print_sms(console, channel)
        else:
            for r in channel["renderings"]:
                parts = r.get("parts") or [r.get("text", "")]
                if "weighted_lengths" in r:
                    measure = "weighted length " + ", ".join(str(n) for n in r["weighted_lengths"])
                    measure += f" of {channel['max_weighted_length']}"
                else:
                    measure = f"{r.get('characters')} characters"
                _panel(console, f"{title} · {r['language']}", parts, measure)
    from crisiscast.cli.preflight_view import print_preflight

    print_preflight(console, data)
    for row in data.get("contact_problems", [])[:5]:
        console.print(Text(f"contacts file: skipped {row}", style="yellow"))
    extra = len(data.get("contact_problems", [])) - 5
    if extra > 0:
        console.print(Text(f"contacts file: … and {extra} more skipped rows", style="yellow"))
    for item in data["skipped"]:
        console.print(
            Text(
                f"{_TITLES.get(item['channel'], item['channel'])}: left out: {item['reason']}", style="yellow"
            )
        )


def _panel(console: Console, title: str, parts: list[str], measure: str) -> None:
    from rich.panel import Panel
    from rich.text import Text

    body = Text()
    for i, part in enumerate(parts, 1):
        if len(parts) > 1:
            body.append(f"[{i}/{len(parts)}] ", style="dim")
        body.append(part + ("\n\n" if i < len(parts) else ""))
    console.print(Panel(body, title=title, title_align="left", subtitle=measure))


def _print_sms(console: Console, channel: Mapping[str, Any]) -> None:
    from rich.text import Text

    for r in channel["renderings"]:
        dropped = f" · dropped {', '.join(r['dropped'])} to fit" if r.get("dropped") else ""
        measure = (
            f"{r['recipients']} recipients · {r['encoding']} · {r['segments']} segments each"
            f" (budget {channel['segment_budget']}) · {r['characters']} characters{dropped}"
        )
        _panel(console, f"SMS · {r['language']}", [r["text"]], measure)
    cost = f", about {channel['cost']} in segment charges" if channel.get("cost") is not None else ""
    console.print(
        Text(
            f"SMS: {channel['recipients']} recipients, {channel['segments_total']} segments in all{cost}",
            "bold",
        )
    )


def _print_document(console: Console, title: str, document: Mapping[str, Any]) -> None:
    lines = [str(document.get(k)) for k in ("headline", "instruction", "web") if document.get(k)]
    for lang, words in (document.get("translations") or {}).items():
        lines.append(f"[{lang}] " + " · ".join(str(v) for v in words.values() if v))
    size = len(json.dumps(document, ensure_ascii=False, default=str).encode("utf-8"))
    _panel(
        console,
        f"{title} · {document.get('language', '')}",
        ["\n".join(lines)],
        f"{document.get('severity')} · {size} bytes of JSON",
    )
