"""``crisiscast rollcall DISPATCH_ID``: who is accounted for, live.

Counts per answer, reached, not answered, unreachable and opted out, then the names of those
who need help (the poll's answers other than the first) and of those who have not answered.
``--watch`` refreshes until the poll closes; ``--json`` prints the roll-call document.
Register with ``crisiscast.cli.rollcall_cmd.register(app)``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import EXIT_OK, fail, load_config, run_async, stdout_console, stopped_watching

if TYPE_CHECKING:
    from rich.console import RenderableType

    from crisiscast.audit.base import AuditStore
    from crisiscast.config import Settings
    from crisiscast.contacts import ContactsLoad
    from crisiscast.rollcall.view import RollCall

__all__ = ["register", "render_rollcall", "rollcall"]

NAMES_SHOWN = 30


def rollcall(
    dispatch_id: Annotated[str, typer.Argument(help="The dispatch id of a message with a poll.")],
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep the view live until the poll closes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the roll-call as JSON.")] = False,
    interval_s: Annotated[
        float, typer.Option("--interval-s", help="Refresh interval with --watch.", min=0.5)
    ] = 2.0,
) -> None:
    """Show who is accounted for: answers, not answered, unreachable, opted out."""
    settings, _ = load_config()

    escalation: list[str | None] = [None]  # the escalation line, read with the roll-call

    async def run() -> RollCall | None:
        import asyncio
        from datetime import UTC, datetime

        from rich.live import Live

        from crisiscast.audit.open import store_from_config
        from crisiscast.read_pacing import next_read_in_s
        from crisiscast.rollcall.view import build_rollcall

        contacts = _contacts(settings)
        store = store_from_config(settings.store)
        await store.open()
        try:
            result = await build_rollcall(store, dispatch_id, contacts)
            escalation[0] = await _escalation(store, dispatch_id)
            if result is None or as_json or not watch:
                return result
            with Live(
                render_rollcall(result, escalation[0]), console=stdout_console(), refresh_per_second=2
            ) as live:
                cost_s = 0.0
                while result.closes_at is not None and datetime.now(UTC) < result.closes_at:
                    # a display refresh interval, not a wait for an event; longer when a read is costly
                    await asyncio.sleep(next_read_in_s(interval_s, cost_s))
                    started = time.monotonic()
                    result = await build_rollcall(store, dispatch_id, contacts) or result
                    cost_s = time.monotonic() - started
                    escalation[0] = await _escalation(store, dispatch_id)
                    live.update(render_rollcall(result, escalation[0]))
            return result
        finally:
            await store.close()

    try:
        result = run_async(run)
    except KeyboardInterrupt:
        if not watch:
            raise
        stopped_watching("the roll-call or its escalation", f"crisiscast rollcall {dispatch_id}")
    if result is None:
        fail(f"There is no dispatch {dispatch_id!r} in the audit store; check it with crisiscast audit list.")
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    elif not watch:
        stdout_console().print(render_rollcall(result, escalation[0]))
    raise typer.Exit(EXIT_OK)


async def _escalation(store: AuditStore, dispatch_id: str) -> str | None:
    """The roll-call's escalation line (None when the message has no escalation steps)."""
    from datetime import UTC, datetime

    from crisiscast.escalation.schedule import read_escalation
    from crisiscast.escalation.view import escalation_line

    state = await read_escalation(store, dispatch_id)
    return escalation_line(state, datetime.now(UTC)) if state is not None else None


def _contacts(settings: Settings) -> ContactsLoad | None:
    """The contacts of the first per-person channel that has a contacts file (for names)."""
    from crisiscast.channels.registry import specs
    from crisiscast.contacts import load_contacts
    from crisiscast.errors import ConfigError

    for spec in specs():
        config = spec.config(settings)
        path = getattr(config, "contacts", None)
        if spec.audience_isolated and isinstance(path, str):
            try:
                return load_contacts(
                    settings.resolve(path), default_region=getattr(config, "default_region", "US")
                )
            except ConfigError:
                return None
    return None


def render_rollcall(result: RollCall, escalation: str | None = None) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    counts = result.counts()
    closes = f" · answers until {result.closes_at:%H:%M} UTC" if result.closes_at else " · no poll"
    title = Text.assemble((f"Roll-call {result.dispatch_id}", "bold"), closes)
    table = Table("", "people")
    if result.poll is not None:
        for answer in result.poll.answers:
            table.add_row(
                f"{answer.code} {next(iter(answer.label.values()))}", str(result.by_answer()[answer.code])
            )
    for key in ("not_answered", "unreachable", "opted_out", "pending"):
        table.add_row(key.replace("_", " "), str(counts[key]))
    parts: list[RenderableType] = [title, table]
    first = result.poll.answers[0].code if result.poll else None
    help_needed = [p for p in result.people if p.state == "answered" and p.code != first]
    silent = [p for p in result.people if p.state in {"not_answered", "unreachable", "opted_out"}]
    for heading, people in (("Need attention", help_needed), ("Not accounted for", silent)):
        if people:
            parts.append(Text(heading, style="bold red"))
            for p in people[:NAMES_SHOWN]:
                parts.append(
                    Text(f"  {p.name or '(no name)'} {p.number} — {p.answer or p.state.replace('_', ' ')}")
                )
            if len(people) > NAMES_SHOWN:
                parts.append(Text(f"  … and {len(people) - NAMES_SHOWN} more (use --json for all)"))
    if escalation is not None:  # crisiscast escalate show DISPATCH_ID tells more
        parts.append(Text(escalation))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    """Add ``rollcall`` to the CLI."""
    app.command("rollcall")(rollcall)
