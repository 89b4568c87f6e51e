"""``crisiscast roster check [--contacts FILE] [--at TIME] [--json]``: who is on call now, how
many people each roster audience reaches, and what to fix in the schedule and the roster.

Exit codes: 0 nothing to fix; 3 something to fix; 2 the contacts file cannot be read or
``--at`` is not a time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import EXIT_FAILED, EXIT_OK, fail, load_config, stdout_console

if TYPE_CHECKING:
    from crisiscast.roster.check import RosterReport

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Check the on-call schedule and on-duty audiences.",
)


def _print(report: RosterReport) -> None:
    from rich.text import Text

    console = stdout_console()
    console.print(Text(f"Roster at {report.at.isoformat(timespec='minutes')}", style="bold"))
    console.print(f"Schedule: {report.schedule or 'none configured (roster.schedule)'}")
    if report.on_call:
        for role, people in report.on_call.items():
            console.print(f"On call for {role} now: {', '.join(people)}", markup=False)
    else:
        console.print("Nobody is on call now.")
    for name, count in report.audiences.items():
        console.print(f"Audience {name}: {count} people now", markup=False)
    for problem in report.problems:
        console.print(Text(f"To fix: {problem}", style="yellow"))
    if not report.problems:
        console.print(Text("Nothing to fix.", style="green"))


@app.command("check")
def check(
    contacts: Annotated[
        Path | None, typer.Option("--contacts", help="The contacts file (default: the staff channels').")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Check at this time (ISO 8601 with an offset) instead of now.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Who is on call now, what each roster audience reaches, and schedule problems."""
    from crisiscast.contacts import load_contacts
    from crisiscast.errors import ConfigError
    from crisiscast.roster.check import check_roster
    from crisiscast.roster.preview import staff_contacts_file

    settings, _ = load_config()
    now = datetime.now(UTC)
    if at is not None:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not a time like 2026-12-04T19:30+00:00.")
        if now.tzinfo is None:
            fail("--at needs an offset, for example 2026-12-04T19:30+00:00.")
    found = staff_contacts_file(settings)
    path, region = found if found is not None else (settings.resolve("config/contacts.csv"), "US")
    try:
        load = load_contacts(contacts or path, default_region=region)
    except ConfigError as exc:
        fail(str(exc))
    report = check_roster(settings, load.contacts, now)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        _print(report)
    raise typer.Exit(EXIT_FAILED if report.problems else EXIT_OK)
