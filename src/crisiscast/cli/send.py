"""``crisiscast send FILE``: preview, confirm, broadcast with live progress, report.

The operator sees the preview, confirms (unless ``--yes``), and the message goes to every
channel at once. The OS user who ran the command is recorded as the approver, with
``confirmed: true`` and how it was confirmed, in the same audit write as the plan, before
anything is sent.

Exit codes: 0 every delivery delivered; 3 any delivery failed; 2 bad input or configuration,
or the operator did not confirm (nothing was sent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crisiscast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    confirm_send,
    fail,
    load_config,
    operator_name,
    run_sending,
    stderr_console,
    stdout_console,
)
from crisiscast.jsontypes import JsonObject

__all__ = ["approval_record", "send"]


def send(
    *,
    file: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE|DRAFT_ID",
            help="The message file (.yaml, .yml or .json), or the id of an approved draft.",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send without asking for confirmation.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the final report as JSON on stdout (progress goes to stderr)."),
    ] = False,
    phi_override: Annotated[
        str | None,
        typer.Option(
            "--phi-override",
            metavar="REASON",
            help="Send text that looks like patient information anyway; the reason is recorded in the audit.",
        ),
    ] = None,
    quality_override: Annotated[
        str | None,
        typer.Option(
            "--quality-override",
            metavar="REASON",
            help="Send an Actual message that fails the quality gate; the reason is recorded in the audit.",
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template", "-t", metavar="ID", help="Send a pre-approved template instead of a file."
        ),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", metavar="KEY=VALUE", help="A template variable; repeat for each."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="With --template: Actual (the default), Exercise or Test (a drill: exercise targets only).",
            show_default=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            envvar="CRISISCAST_SERVER",
            help="Hand the broadcast to the crisiscast serve at URL (your token: CRISISCAST_API_TOKEN).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send a message to every channel at once, with live progress and a final report.

    FILE is sent when the operator alone satisfies the approval policy (an Exercise); an
    Actual free-text file is saved as a draft that needs approvers (crisiscast approve).
    A template drill is one command: send --template ID --var KEY=VALUE --status Exercise.
    With --server the running crisiscast serve previews, approves and sends it under your API token.
    """
    if status is not None and template is None:
        fail("--status goes with --template; a message file or draft carries its own status.")
    if server is not None:
        _via_server(
            server,
            file,
            template,
            var,
            status,
            yes=yes,
            as_json=as_json,
            phi=phi_override,
            quality=quality_override,
        )
    from crisiscast.cli.dispatching import dispatch_message
    from crisiscast.cli.lifecycle_cmds import direct_send_gate, is_draft_reference, send_draft_or_template
    from crisiscast.cli.preflight_view import quality_approval, quality_refusal
    from crisiscast.cli.preview import (
        build_preview,
        confirmation_question,
        preview_problems,
        print_preview,
        refuse_empty_audiences,
    )
    from crisiscast.cli.progress import print_report, report_json
    from crisiscast.loader import load_message

    if template is not None or (file is not None and is_draft_reference(file)):
        send_draft_or_template(
            file,
            template,
            var,
            yes=yes,
            as_json=as_json,
            phi_override=phi_override,
            status=status or "Actual",
            quality_override=quality_override,
        )
    if file is None:
        fail("Name a message file or a draft id to send, or pass --template ID.")
    settings, secrets = load_config()
    message = load_message(Path(file))
    direct_send_gate(settings, message, as_json=as_json)
    preview = build_preview(message, settings, phi_override=phi_override, secrets=secrets)
    shown = stderr_console() if as_json else stdout_console()
    print_preview(shown, preview)
    problems = preview_problems(preview)
    if problems:
        name, reason = next(iter(problems.items()))
        fail(f"Nothing was sent: the {name} channel cannot take this message: {reason}")
    refuse_empty_audiences(preview)
    if not preview.destinations:
        reasons = "; ".join(
            f"{name}: {reason}"
            for name, reason in preview.skipped
            if reason != "not selected for this message"
        )
        fail(f"Nothing was sent: no channel can take this message ({reasons or 'none is enabled'}).")
    refusal = quality_refusal(message, preview.quality, quality_override)
    if refusal is not None:
        fail(refusal)

    confirmed_with = "--yes" if yes else confirm_send(confirmation_question(preview))
    approval = approval_record(
        confirmed_with=confirmed_with,
        phi_override=phi_override,
        shared_console_accounts=settings.policy.shared_console_accounts,
    )
    approval.update(quality_approval(preview.quality, quality_override))
    report, skipped = run_sending(
        lambda: dispatch_message(
            settings,
            secrets,
            message,
            approval=approval,
            phi_override=phi_override,
            console=stderr_console() if as_json else stdout_console(),
        )
    )
    if as_json:
        typer.echo(json.dumps(report_json(report, skipped), indent=2, ensure_ascii=False))
    else:
        print_report(stdout_console(), report, skipped=skipped)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


def _via_server(
    server: str,
    file: str | None,
    template: str | None,
    var: list[str] | None,
    status: str | None,
    *,
    yes: bool,
    as_json: bool,
    phi: str | None,
    quality: str | None,
) -> None:
    from crisiscast.cli.lifecycle_cmds import is_draft_reference
    from crisiscast.cli.remote_send import send_via_server

    if phi is not None:
        fail("--phi-override is not taken through --server; send without --server to use it.")
    if template is None and file is None:
        fail("Name a message file or a draft id to send, or pass --template ID.")
    draft = file if template is None and file is not None and is_draft_reference(file) else None
    send_via_server(
        server,
        file=None if draft else file,
        template=template,
        variables=var,
        status=status or "Actual",
        yes=yes,
        as_json=as_json,
        quality_override=quality,
        draft_id=draft,
    )



def approval_record(
    *, confirmed_with: str, phi_override: str | None = None, shared_console_accounts: tuple[str, ...] = ()
) -> JsonObject:
    """The approval recorded for a CLI send: the operator, the OS account, confirmed, and how."""
    import socket
    from datetime import UTC, datetime

    from crisiscast.lifecycle.identity import acting_fields

    record: JsonObject = {
        "approver": operator_name(shared_console_accounts),
        **acting_fields(),
        "method": "cli",
        "confirmed": True,
        "confirmed_with": confirmed_with,
        "host": socket.gethostname(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if phi_override is not None:
        record["phi_override"] = phi_override
    return record
