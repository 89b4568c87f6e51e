"""``crisiscast preview FILE``: exactly what each channel will get, with its size metrics.

The data comes from ``crisiscast.adapt.preview.preview_message``: every channel's own preview
(the same functions the channels render with, and who a staff channel would reach, with the
contacts-file rows it skips). Nothing is sent and no secret is needed. A channel whose text breaks a policy
(too long for its budget, patient information on a public channel) is shown with the reason,
and the command exits 2, because ``send`` would refuse the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import EXIT_OK, EXIT_USAGE, load_config, stdout_console

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.adapt.preview import Preview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = [
    "build_preview",
    "confirmation_question",
    "preview",
    "preview_problems",
    "print_preview",
    "refuse_empty_audiences",
]


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
        typer.echo(json.dumps(data.to_json(), indent=2, ensure_ascii=False, default=str))
    else:
        print_preview(stdout_console(), data)
    raise typer.Exit(EXIT_USAGE if preview_problems(data) or data.audience_refusal else EXIT_OK)


def build_preview(
    message: CrisisMessage,
    settings: Settings,
    *,
    phi_override: str | None = None,
    secrets: Secrets | None = None,
) -> Preview:
    """The preview (``crisiscast.adapt.preview.preview_message``) the operator confirms, with the
    quality gate's findings and the arrival forecast (``crisiscast.cli.preflight_view``).

    With ``secrets``, a channel that ``send`` would leave out (a secret missing, no exercise
    account …) is moved to ``skipped`` with that reason, so the operator sees it before
    confirming and is never shown a text that will not go out."""
    from crisiscast.adapt.preview import preview_message
    from crisiscast.cli.preflight_view import preflight_data

    data = preview_message(message, settings, allow_phi=phi_override is not None)
    if secrets is not None:
        _leave_out_unavailable(data, message, settings, secrets)
    data.quality, data.forecast = preflight_data(message, settings, data)
    return data


def _leave_out_unavailable(
    data: Preview, message: CrisisMessage, settings: Settings, secrets: Secrets
) -> None:
    """Move the channels the registry cannot build for ``message`` to ``data.skipped``."""
    from crisiscast.channels.registry import build_channels
    from crisiscast.errors import UserError

    try:
        _, left_out = build_channels(settings, secrets, message)
    except UserError:
        return  # the same error stops send when it builds the channels; the preview still shows
    for name, reason in left_out:
        if name in data.destinations:
            data.leave_out(name, reason)


def preview_problems(data: Preview) -> dict[str, str]:
    """Channel name → why it cannot take the message (empty when every channel can)."""
    return dict(data.refused)


def confirmation_question(data: Preview) -> str:
    """The question the operator answers: it names every channel the message will go to."""
    msg = data.message
    where = "exercise targets" if msg.exercise else "PRODUCTION"
    return f"Send this {msg.status} {msg.msg_type} to {', '.join(data.destinations)} ({where}) now?"


def print_preview(console: Console, data: Preview) -> None:
    """Print a preview for people: one panel per channel and language, then what is left out."""
    from rich.text import Text

    from crisiscast.channels.registry import title_of

    msg = data.message
    where = "exercise targets only" if msg.exercise else "PRODUCTION targets"
    console.print(
        Text.assemble(
            (f"{msg.status} {msg.msg_type}", "bold"),
            f" · {msg.severity} · languages {', '.join(msg.languages)}",
            f" · expires {msg.expires_at} · " if msg.expires_at else " · ",
            (where, "bold green" if msg.exercise else "bold red"),
        )
    )
    if msg.poll:
        console.print(Text(f"Poll: {msg.poll}", style="bold"))
    for step in msg.escalation:
        console.print(Text(f"Escalation: {step}", style="bold"))
    for name in data.destinations:
        title = title_of(name)
        if name in data.refused:
            console.print(Text(f"{title}: cannot send: {data.refused[name]}", style="bold red"))
            continue
        channel = data.channels[name]
        for panel in channel.panels():
            _panel(console, f"{title} · {panel.language}", list(panel.parts), panel.measure)
        summary = channel.summary()
        if summary:
            console.print(Text(summary, "bold"))
    from crisiscast.cli.preflight_view import print_preflight

    print_preflight(console, data)
    problems = data.contact_problems
    for row in problems[:5]:
        console.print(Text(f"contacts file: skipped {row}", style="yellow"))
    if len(problems) > 5:
        console.print(Text(f"contacts file: … and {len(problems) - 5} more skipped rows", style="yellow"))
    for name, reason in data.skipped:
        console.print(Text(f"{title_of(name)}: left out: {reason}", style="yellow"))
    if data.audiences:
        people = " · ".join(f"{name} {count}" for name, count in data.audiences.items())
        console.print(Text(f"People each audience reaches right now: {people}", style="bold"))
    if data.audience_refusal:
        console.print(Text(data.audience_refusal, style="bold red"))


def refuse_empty_audiences(data: Preview) -> None:
    """Stop (exit 2) with the preview's sentence when a roster audience resolves to nobody;
    the refusal is logged (``send_refused``) with the audiences' counts."""
    if data.audience_refusal is None:
        return
    import structlog

    from crisiscast.cli.common import fail

    structlog.get_logger(__name__).warning(
        "send_refused", reason=data.audience_refusal, audiences=dict(data.audiences), message=data.message.id
    )
    fail(data.audience_refusal)


def _panel(console: Console, title: str, parts: list[str], measure: str) -> None:
    from rich.panel import Panel
    from rich.text import Text

    body = Text()
    for i, part in enumerate(parts, 1):
        if len(parts) > 1:
            body.append(f"[{i}/{len(parts)}] ", style="dim")
        body.append(part + ("\n\n" if i < len(parts) else ""))
    console.print(Panel(body, title=title, title_align="left", subtitle=measure))
