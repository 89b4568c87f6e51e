"""``crisiscast status ID [--watch] [--json]``: where a dispatch stands, from the audit store.

Shows the same document as ``GET /v1/dispatches/{id}``: the state, per-channel counts
(planned, delivered, failed, in progress, cancelled, skipped) and each SMS recipient with
Twilio's latest delivery receipt. ``--watch`` redraws every ``--interval-s`` seconds until
the dispatch is no longer dispatching (or Ctrl-C); for a dispatch whose document is costly to
rebuild (seconds at 100,000 recipients) it refreshes the state and counts only, and reads the
whole document again when the dispatch is over (``refreshed``).

Exit codes: 0 delivered, dispatching or awaiting approval; 3 failed or partially delivered;
2 no such dispatch or a configuration problem.

Register with ``crisiscast.cli.status_cmd.register(app)``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiscast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    fail,
    load_config,
    run_async,
    stdout_console,
    stopped_watching,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from crisiscast.audit.base import AuditStore

__all__ = ["refreshed", "register", "render_status", "status"]

_SMS_ROWS_SHOWN = 20


def status(
    dispatch_id: Annotated[str, typer.Argument(help="The dispatch id (from send, or the webhook's answer).")],
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep the view live until the dispatch ends.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status document as JSON.")] = False,
    interval_s: Annotated[
        float, typer.Option("--interval-s", help="Refresh interval with --watch.", min=0.2)
    ] = 1.0,
) -> None:
    """Show where a dispatch stands: state, per-channel counts and SMS delivery receipts."""
    settings, _secrets = load_config()

    async def run() -> dict[str, Any] | None:
        from crisiscast.audit.open import store_from_config

        store = store_from_config(settings.store)
        await store.open()
        try:
            if as_json:
                from crisiscast.server.status_view import dispatch_status

                return await dispatch_status(store, dispatch_id)
            return await _show(store, dispatch_id, watch=watch, interval_s=interval_s)
        finally:
            await store.close()

    try:
        document = run_async(run)
    except KeyboardInterrupt:
        if not watch:
            raise
        stopped_watching("the broadcast", f"crisiscast status {dispatch_id}")
    if document is None:
        fail(f"There is no dispatch {dispatch_id!r} in the audit store; check it with crisiscast audit list.")
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    raise typer.Exit(EXIT_FAILED if document["state"] in ("failed", "partially_delivered") else EXIT_OK)


async def _show(
    store: AuditStore, dispatch_id: str, *, watch: bool, interval_s: float
) -> dict[str, Any] | None:
    import asyncio

    from rich.live import Live

    from crisiscast.server.status_view import dispatch_status

    started = time.monotonic()
    document = await dispatch_status(store, dispatch_id)
    if document is None or not watch:
        if document is not None:
            stdout_console().print(render_status(document))
        return document
    cost_s = time.monotonic() - started
    console = stdout_console()
    with Live(render_status(document), console=console, refresh_per_second=4) as live:
        while document["state"] == "dispatching":
            await asyncio.sleep(interval_s)  # a display refresh interval, not a wait for an event
            document, cost_s = await refreshed(store, dispatch_id, document, cost_s, interval_s)
            live.update(render_status(document))
    return document


async def refreshed(
    store: AuditStore, dispatch_id: str, document: dict[str, Any], cost_s: float, interval_s: float
) -> tuple[dict[str, Any], float]:
    """The next view of ``--watch``, and what its full document cost.

    The status document (rebuilt from the events, every SMS recipient listed) is read again
    while that costs at most about a tenth of the refresh interval (``crisiscast.read_pacing``);
    for a larger dispatch (seconds at 100,000 recipients) the state and counts are refreshed from
    the database instead
    (``progress_document``) and the recipient rows are marked as of the last full read, which is
    made again once the dispatch is over."""
    from crisiscast.read_pacing import next_read_in_s
    from crisiscast.server.status_view import dispatch_status, progress_document

    if next_read_in_s(interval_s, cost_s) <= interval_s:
        started = time.monotonic()
        full = await dispatch_status(store, dispatch_id)
        return (full or document), time.monotonic() - started
    progress = await progress_document(store, dispatch_id)
    if progress is None:
        return document, cost_s
    if progress["finished"]:
        return (await dispatch_status(store, dispatch_id) or document), cost_s
    rows_note = "recipient rows as of the last full read; all again when it is over"
    return {
        **document,
        "state": progress["state"],
        "channels": progress["channels"],
        "rows_note": rows_note,
    }, cost_s


def render_status(document: Mapping[str, Any]) -> RenderableType:
    """A rich view of a status document."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    message = document.get("message") or {}
    title = Text.assemble(
        (f"{document['dispatch_id']}  ", "bold"),
        (str(document["state"]).replace("_", " "), _style(str(document["state"]))),
        f"  {message.get('status') or ''} {message.get('msg_type') or ''}: {message.get('headline') or ''}",
    )
    channels = Table("channel", "planned", "delivered", "failed", "in progress", "cancelled", "skipped")
    for name, c in sorted(document.get("channels", {}).items()):
        channels.add_row(
            name,
            *(str(c[k]) for k in ("planned", "delivered", "failed", "in_progress", "cancelled", "skipped")),
        )
    parts: list[RenderableType] = [title, channels]
    sms = document.get("sms_receipts") or []
    if sms:
        table = Table("recipient", "state", "message SID", "receipt", "error")
        for row in sms[:_SMS_ROWS_SHOWN]:
            receipt = row.get("receipt") or {}
            table.add_row(
                row["target"],
                row["state"],
                row.get("provider_id") or "",
                receipt.get("status", ""),
                receipt.get("error_code") or row.get("last_code") or "",
            )
        parts.append(table)
        if len(sms) > _SMS_ROWS_SHOWN:
            parts.append(Text(f"… and {len(sms) - _SMS_ROWS_SHOWN} more recipients (use --json for all)"))
        if document.get("rows_note"):
            parts.append(Text(f"({document['rows_note']})", style="dim"))
    return Group(*parts)


def _style(state: str) -> str:
    return {"delivered": "green", "dispatching": "yellow", "awaiting_approval": "cyan"}.get(state, "red")


def register(app: typer.Typer) -> None:
    """Add ``status`` to the CLI."""
    app.command("status")(status)
