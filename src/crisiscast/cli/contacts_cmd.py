"""``crisiscast contacts check [--contacts FILE] [--json]``: who can be reached, and how.

Reads the contacts file every channel section names (``contacts = …``; or ``--contacts``) and
the audit store, and prints, for every person, the paths they have, then what needs fixing
before an incident: people and audiences without an alternate means, duplicated numbers or
addresses, bad rows and values, numbers that opted out of SMS (Twilio 21610 in the audit).

Exit codes: 0 nothing to fix; 3 something to fix (or the audit could not be read); 2 the
contacts file cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import EXIT_FAILED, EXIT_OK, fail, load_config, run_async, stdout_console

if TYPE_CHECKING:
    from crisiscast.config import Settings
    from crisiscast.contacts_check import ContactsReport, OptOut

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Check the staff contacts file.")


def _files(settings: Settings) -> list[tuple[Path, str]]:
    """(path, default region) of every contacts file the channel sections name, once each."""
    from crisiscast.channels.registry import specs

    out: dict[Path, str] = {}
    for spec in specs():
        section = spec.config(settings)
        name = getattr(section, "contacts", None)
        if isinstance(name, str) and name:
            out.setdefault(settings.resolve(name), str(getattr(section, "default_region", "US")))
    return list(out.items())


async def _opt_outs(settings: Settings, dispatches: int) -> tuple[list[OptOut], str | None]:
    from crisiscast.audit.open import store_from_config
    from crisiscast.contacts_check import opted_out_numbers
    from crisiscast.errors import CrisiscastError

    store = store_from_config(settings.store)
    try:
        await store.open()
    except (CrisiscastError, OSError) as exc:
        return [], f"the audit store could not be read for SMS opt-outs ({exc})"
    try:
        return await opted_out_numbers(store, dispatches=dispatches), None
    finally:
        await store.close()


def _print(report: ContactsReport) -> None:
    console = stdout_console()
    console.print(f"{report.source}: {len(report.people)} people", markup=False)
    for contact, paths in report.people:
        label = contact.name or contact.phone
        console.print(f"  line {contact.line:>4}  {label:<28} {', '.join(paths) or 'none'}", markup=False)
    sections: list[tuple[str, list[str]]] = [
        ("No alternate means", [f"line {c.line}: {c.name or c.phone}" for c in report.without_alternate]),
        (
            "Audiences with nobody reachable by an alternate means",
            [f"{a} ({n} people)" for a, n in report.audiences_without_alternate],
        ),
        (
            "Duplicates",
            [f"{d.what} {d.value} on lines {', '.join(map(str, d.lines))}" for d in report.duplicates],
        ),
        ("Rows skipped", report.skipped_rows),
        ("Values left out", report.ignored_values),
        (
            "Opted out of SMS (Twilio 21610; they must reply START)",
            [f"{o.number} {o.name}".strip() + f" (dispatch {o.dispatch_id})" for o in report.opted_out],
        ),
    ]
    for title, lines in sections:
        if lines:
            console.print(f"\n{title}:", markup=False)
            for line in lines:
                console.print(f"  {line}", markup=False)
    console.print("", markup=False)
    console.print(report.summary(), markup=False)


@app.command("check")
def check(
    contacts: Annotated[
        Path | None, typer.Option("--contacts", help="The contacts CSV (default: the configured one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    dispatches: Annotated[
        int, typer.Option("--dispatches", min=1, help="How many recent dispatches to scan for opt-outs.")
    ] = 200,
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="Look for SMS opt-outs in the audit.")
    ] = True,
) -> None:
    """Which paths every person has, and what to fix before an incident (exit 3 when anything)."""
    from crisiscast.contacts import load_contacts
    from crisiscast.contacts_check import check_contacts
    from crisiscast.errors import ConfigError

    settings, _ = load_config()
    files = [(contacts, "US")] if contacts is not None else _files(settings)
    if not files:
        fail("No channel names a contacts file; pass --contacts FILE.")
    opt_outs, note = run_async(lambda: _opt_outs(settings, dispatches)) if audit else ([], None)
    reports = []
    for path, region in files:
        try:
            load = load_contacts(path, default_region=region)
        except ConfigError as exc:
            fail(str(exc))
        report = check_contacts(load, settings.audiences, opt_outs, source=str(path))
        report.audit_note = note
        reports.append(report)
    if as_json:
        data = [r.to_json() for r in reports]
        typer.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            _print(report)
    raise typer.Exit(EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED)
