"""Lifecycle commands: ``draft``, ``approve``, ``update``, ``cancel``, and ``send`` of a draft.

The approval policy (``crisiscast.lifecycle.approval``) decides who may send what:

- ``crisiscast draft FILE`` / ``draft --template ID --var k=v`` stores a draft, prints its id,
  its preview and what it still needs;
- ``crisiscast approve ID`` records the operator's approval (never the author's own Actual);
- ``crisiscast send ID`` (also ``send --template ID``) sends when the policy holds, and
  otherwise says exactly what is missing (nothing is sent; the refusal is recorded);
- ``crisiscast update DISPATCH_ID (FILE | --template ID)`` sends a CAP Update to the
  original's reach (a reply in its X thread, SMS only to the numbers it reached …);
- ``crisiscast cancel DISPATCH_ID`` stops the dispatch at once, then sends the all-clear
  (``--template all-clear`` by default, or ``--all-clear TEXT``) to exactly its reach.

When the policy needs more approvals than the operator (free text), ``update`` and
``cancel``'s all-clear are stored as drafts and the command says who must approve them.
The operator is ``$CRISISCAST_OPERATOR``, else the OS user. Exit codes as everywhere:
0 delivered, 2 nothing sent (input, policy, not confirmed), 3 a delivery failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiscast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    confirm_send,
    fail,
    load_config,
    run_async,
    run_sending,
    stderr_console,
    stdout_console,
    template_variables,
)
from crisiscast.jsontypes import JsonObject
from crisiscast.phases import mark

if TYPE_CHECKING:
    from crisiscast.cli.lifecycle_run import Candidate
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = [
    "approve",
    "cancel",
    "direct_send_gate",
    "draft",
    "is_draft_reference",
    "send_draft_or_template",
    "update",
]

TemplateOpt = Annotated[
    str | None,
    typer.Option("--template", "-t", metavar="ID", help="A pre-approved template (see config/templates)."),
]
VarOpt = Annotated[
    list[str] | None,
    typer.Option("--var", metavar="KEY=VALUE", help="A template variable; repeat for each."),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Send without asking for confirmation.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
PhiOpt = Annotated[
    str | None,
    typer.Option("--phi-override", metavar="REASON", help="Allow text that looks like patient information."),
]
QualityOpt = Annotated[
    str | None,
    typer.Option(
        "--quality-override",
        metavar="REASON",
        help="Send an Actual message that fails the quality gate; the reason is recorded in the audit.",
    ),
]


def is_draft_reference(value: str) -> bool:
    """True when ``send``'s argument names a draft id rather than a message file."""
    if Path(value).exists() or Path(value).suffix.lower() in (".yaml", ".yml", ".json"):
        return False
    return "/" not in value and "\\" not in value


def _operator(settings: Settings) -> str:
    """The person running the command: their OS account, or a shared console account's label."""
    from crisiscast.lifecycle.identity import operator_identity

    return operator_identity(settings.policy.shared_console_accounts)


def _show(
    console: Any,
    message: CrisisMessage,
    settings: Settings,
    phi_override: str | None,
    secrets: Secrets | None = None,
    *,
    quality_override: str | None = None,
    check_quality: bool = True,
) -> tuple[str, JsonObject]:
    """Print the preview; refuse (nothing sent) when a channel cannot take the message, or when
    an Actual free-text message fails the quality gate without ``quality_override``.

    Returns the confirmation question, naming every channel it will go to (with ``secrets``:
    without those ``send`` leaves out), and what the approval record adds for the quality gate
    (the override and its findings)."""
    from crisiscast.cli.preflight_view import quality_approval, quality_refusal
    from crisiscast.cli.preview import (
        build_preview,
        confirmation_question,
        preview_problems,
        print_preview,
        refuse_empty_audiences,
    )

    data = build_preview(message, settings, phi_override=phi_override, secrets=secrets)
    print_preview(console, data)
    problems = preview_problems(data)
    if problems:
        name, reason = next(iter(problems.items()))
        fail(f"Nothing was sent: the {name} channel cannot take this message: {reason}")
    refuse_empty_audiences(data)
    refusal = quality_refusal(message, data.quality, quality_override) if check_quality else None
    if refusal is not None:
        fail(refusal)
    return confirmation_question(data), quality_approval(data.quality, quality_override)


def _confirm(yes: bool, question: str) -> str:
    return "--yes" if yes else confirm_send(question)


def _hold(settings: Settings, cand: Candidate, author: str, *, as_json: bool) -> None:
    """Store a candidate the operator may not send alone, say who must approve it, exit 2."""
    from crisiscast.cli.lifecycle_run import candidate, store_draft

    draft_id = run_async(lambda: store_draft(settings, cand, author))
    verdict = candidate(cand.message, cand.source, author, settings, draft_id).verdict
    needs = verdict.sentence
    if as_json:  # the same document as draft --json, so a script reads one shape
        typer.echo(json.dumps(_draft_json(draft_id, author, verdict)))
    else:
        stdout_console().print(f"Saved as draft {draft_id}.", markup=False, soft_wrap=True)
    fail(
        f"Nothing was sent: {needs} Ask them to run crisiscast approve {draft_id}, "
        f"then run crisiscast send {draft_id}."
    )


def _send(
    settings: Settings,
    secrets: Secrets,
    sender: str,
    *,
    yes: bool,
    as_json: bool,
    phi_override: str | None,
    cand: Candidate | None = None,
    draft_id: str | None = None,
    extra: JsonObject | None = None,
    quality_override: str | None = None,
) -> None:
    """Preview, confirm, dispatch with live progress, report; exits."""
    from crisiscast.cli.lifecycle_run import check_draft, send_candidate
    from crisiscast.cli.progress import print_report, report_json

    console = stderr_console() if as_json else stdout_console()
    if cand is not None:
        message = cand.message
    else:
        assert draft_id is not None
        message = run_async(lambda: check_draft(settings, draft_id, sender))
    question, quality = _show(
        console, message, settings, phi_override, secrets, quality_override=quality_override
    )
    if cand is not None and cand.note:
        console.print(f"Follow-up: {cand.note}.", markup=False, soft_wrap=True)
    mark("preview")
    confirmed_with = _confirm(yes, question)
    report, skipped = run_sending(
        lambda: send_candidate(
            settings,
            secrets,
            sender=sender,
            confirmed_with=confirmed_with,
            console=console,
            draft_id=draft_id,
            cand=cand,
            phi_override=phi_override,
            approval_extra=quality,
        )
    )
    if as_json:
        typer.echo(
            json.dumps({**report_json(report, skipped), **(extra or {})}, indent=2, ensure_ascii=False)
        )
    else:
        print_report(stdout_console(), report, skipped=skipped)
    mark("report")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


def _status(value: str) -> Any:
    from crisiscast.message import Status

    for status in Status:
        if status.value.lower() == value.strip().lower():
            return status
    fail(f"--status {value!r} is not a status; use Actual, Exercise or Test.")


# -- commands ---------------------------------------------------------------------------------


def draft(
    *,
    file: Annotated[Path | None, typer.Argument(help="The message file (.yaml, .yml or .json).")] = None,
    template: TemplateOpt = None,
    var: VarOpt = None,
    status: Annotated[
        str, typer.Option("--status", help="With --template: Actual, Exercise or Test.")
    ] = "Actual",
    as_json: JsonOpt = False,
) -> None:
    """Store a message as a draft; print its id, its preview and the approvals it still needs."""
    from crisiscast.cli.lifecycle_run import candidate, catalog_of, render_template, store_draft
    from crisiscast.loader import load_message

    if (file is None) == (template is None):
        fail("Give either a message file or --template ID to draft.")
    settings, _ = load_config()
    author = _operator(settings)
    if template is not None:
        values = template_variables(var)
        message = render_template(catalog_of(settings), template, values, status=_status(status))
        source = "template"
    else:
        assert file is not None
        message, source = load_message(file), "file"
    console = stderr_console() if as_json else stdout_console()
    _show(console, message, settings, None, check_quality=False)  # saved whatever the gate says
    cand = candidate(message, source, author, settings)
    draft_id = run_async(lambda: store_draft(settings, cand, author))
    result = candidate(message, source, author, settings, draft_id).verdict
    if as_json:
        typer.echo(json.dumps(_draft_json(draft_id, author, result)))
        return
    console.print(f"Draft {draft_id} saved by {author}.", markup=False, soft_wrap=True)
    if result.ok:
        console.print(f"It may be sent now: crisiscast send {draft_id}", markup=False, soft_wrap=True)
    else:
        console.print(
            f"{result.sentence} They approve with: crisiscast approve {draft_id}",
            markup=False,
            soft_wrap=True,
        )


def approve(
    draft_id: Annotated[str, typer.Argument(metavar="ID", help="The draft to approve.")],
    as_json: JsonOpt = False,
) -> None:
    """Approve a draft as the operator (never your own Actual message); say what is still missing."""
    from crisiscast.cli.lifecycle_run import catalog_of, open_store
    from crisiscast.lifecycle.drafts import approve_draft

    settings, _ = load_config()
    approver = _operator(settings)

    async def go() -> Any:
        async with open_store(settings) as store:
            return await approve_draft(store, draft_id, approver, settings.policy, catalog_of(settings))

    result = run_async(go)
    if as_json:
        out = {
            "draft_id": draft_id,
            "approver": approver,
            "ready": result.ok,
            "missing": result.missing,
            "already_approved": result.already_approved,
        }
        typer.echo(json.dumps({**out, "needs": "" if result.ok else result.sentence}))
        return
    console = stdout_console()
    if result.already_approved:
        console.print(
            f"{approver} had already approved draft {draft_id}; nothing new was recorded.",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(f"{approver} approved draft {draft_id}.", markup=False, soft_wrap=True)
    if result.ok:
        console.print(
            f"{result.sentence} Send it with: crisiscast send {draft_id}", markup=False, soft_wrap=True
        )
    else:
        console.print(result.sentence, markup=False, soft_wrap=True)


def send_draft_or_template(
    target: str | None,
    template: str | None,
    variables: list[str] | None,
    *,
    yes: bool,
    as_json: bool,
    phi_override: str | None,
    status: str = "Actual",
    quality_override: str | None = None,
) -> None:
    """``crisiscast send DRAFT_ID`` or ``crisiscast send --template ID --var … [--status S]`` (exits)."""
    from crisiscast.cli.lifecycle_run import candidate, catalog_of, render_template

    if template is not None and target is not None:
        fail("Give either a draft id or --template ID to send, not both.")
    settings, secrets = load_config()
    sender = _operator(settings)
    mark("config")
    if template is None:
        assert target is not None
        _send(
            settings,
            secrets,
            sender,
            yes=yes,
            as_json=as_json,
            phi_override=phi_override,
            draft_id=target,
            quality_override=quality_override,
        )
    assert template is not None
    values = template_variables(variables)
    message = render_template(catalog_of(settings), template, values, status=_status(status))
    cand = candidate(message, "template", sender, settings)
    mark("render")
    if not cand.verdict.ok:
        _hold(settings, cand, sender, as_json=as_json)
    _send(settings, secrets, sender, yes=yes, as_json=as_json, phi_override=phi_override, cand=cand)


def direct_send_gate(settings: Settings, message: CrisisMessage, *, as_json: bool = False) -> None:
    """``send FILE``: go on only when the operator alone satisfies the policy; else hold as a draft
    (with ``as_json``, printing the document ``draft --json`` prints)."""
    from crisiscast.cli.lifecycle_run import candidate

    author = _operator(settings)
    cand = candidate(message, "file", author, settings)
    if not cand.verdict.ok:
        _hold(settings, cand, author, as_json=as_json)


def _draft_json(draft_id: str, author: str, verdict: Any) -> JsonObject:
    """What ``draft --json`` (and every command that holds a message as a draft) prints."""
    out = {"draft_id": draft_id, "author": author, "ready": verdict.ok, "missing": verdict.missing}
    return {**out, "needs": "" if verdict.ok else verdict.sentence}


def update(
    *,
    dispatch_id: Annotated[str, typer.Argument(metavar="DISPATCH_ID", help="The alert to update.")],
    file: Annotated[Path | None, typer.Argument(help="The update's message file.")] = None,
    template: TemplateOpt = None,
    var: VarOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    phi_override: PhiOpt = None,
    quality_override: QualityOpt = None,
) -> None:
    """Send a CAP Update of an alert to where it arrived (X thread reply, SMS to who it reached …)."""
    from crisiscast.cli.lifecycle_run import follow_up_candidate
    from crisiscast.loader import load_message

    if (file is None) == (template is None):
        fail("Give either the update's message file or --template ID.")
    settings, secrets = load_config()
    sender = _operator(settings)
    file_message = load_message(file) if file is not None else None
    cand = run_async(
        lambda: follow_up_candidate(
            settings,
            dispatch_id,
            "update",
            sender,
            file_message=file_message,
            template_id=template,
            variables=template_variables(var),
        )
    )
    if not cand.verdict.ok:
        _hold(settings, cand, sender, as_json=as_json)
    _send(
        settings,
        secrets,
        sender,
        yes=yes,
        as_json=as_json,
        phi_override=phi_override,
        cand=cand,
        quality_override=quality_override,
    )


def cancel(
    *,
    dispatch_id: Annotated[
        str, typer.Argument(metavar="DISPATCH_ID", help="The alert (or draft) to cancel.")
    ],
    all_clear: Annotated[
        str | None, typer.Option("--all-clear", metavar="TEXT", help="Free-text all-clear (needs approvers).")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", metavar="ID", help="All-clear template (default all-clear)."),
    ] = None,
    var: VarOpt = None,
    no_all_clear: Annotated[
        bool,
        typer.Option("--no-all-clear", help="Only stop it; send no all-clear (banner and signage stay)."),
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the audit.")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    quality_override: QualityOpt = None,
) -> None:
    """Stop a dispatch at once, then send the all-clear to exactly the people and places it reached."""
    from crisiscast.cli.lifecycle_run import follow_up_candidate, stop_lineage

    if sum(x is not None for x in (all_clear, template)) + no_all_clear > 1:
        fail("Give at most one of --all-clear TEXT, --template ID and --no-all-clear.")
    settings, secrets = load_config()
    who = _operator(settings)
    why = reason or f"cancelled by {who}"
    console = stderr_console() if as_json else stdout_console()
    stopped = run_async(lambda: stop_lineage(settings, dispatch_id, who=who, reason=why))
    if stopped["was_draft"]:
        if as_json:
            typer.echo(json.dumps({"stopped": stopped, "all_clear": None}))
        else:
            console.print(f"Draft {dispatch_id} discarded; it was never sent.", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    console.print(
        f"Stopped {dispatch_id}: {stopped['delivered']} delivered, {stopped['cancelled']} cancelled, "
        f"{stopped['failed']} failed, {stopped['in_doubt']} in doubt.",
        markup=False,
        soft_wrap=True,
    )
    if no_all_clear:
        if as_json:
            typer.echo(json.dumps({"stopped": stopped, "all_clear": None}))
        raise typer.Exit(EXIT_OK)
    cand = run_async(
        lambda: follow_up_candidate(
            settings,
            dispatch_id,
            "cancel",
            who,
            template_id=None if all_clear is not None else (template or "all-clear"),
            variables=template_variables(var),
            all_clear_text=all_clear,
        )
    )
    if not cand.verdict.ok:
        _hold(settings, cand, who, as_json=as_json)
    _send(
        settings,
        secrets,
        who,
        yes=yes,
        as_json=as_json,
        phi_override=None,
        cand=cand,
        extra={"stopped": stopped},
        quality_override=quality_override,
    )
