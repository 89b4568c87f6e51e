"""``crisiscast audit list|show|verify|export``: the record of every dispatch.

- ``list``: newest dispatches first (``--json`` for machines);
- ``show ID``: one dispatch — message, approval, skipped channels, every delivery's state
  and, with ``--events``, every audit event;
- ``verify [FILE]``: walk the whole SHA-256 hash chain (of the store, or of an exported file);
  exit 0 when it holds, 3 naming the first broken event when any row was edited, deleted or
  reordered;
- ``export [ID]``: the events (all, or one dispatch's) as JSONL (verifiable on its own) or CSV,
  to stdout or ``--out``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from crisiscast.cli.common import EXIT_FAILED, EXIT_OK, fail, load_config, run_async, stdout_console
from crisiscast.jsontypes import JsonObject

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore, DeliveryRecord, DispatchRecord

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="markdown", help="Read, verify and export the audit trail."
)

T = TypeVar("T")


def _with_store(work: Callable[[AuditStore], Awaitable[T]]) -> T:
    settings, _ = load_config()

    async def run() -> T:
        from crisiscast.audit.open import store_from_config

        store = store_from_config(settings.store)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return run_async(run)


def _dispatch_json(record: DispatchRecord) -> JsonObject:
    return {
        "dispatch_id": record.dispatch_id,
        "created_at": record.created_at.isoformat(),
        "state": record.state,
        "message": dict(record.message),
        "summary": dict(record.summary),
    }


def _delivery_json(record: DeliveryRecord) -> JsonObject:
    return {
        "key": record.delivery.key,
        "channel": record.delivery.channel,
        "target": record.delivery.target,
        "part": record.delivery.part,
        "state": record.state.value,
        "attempts": record.attempts,
        "provider_id": record.provider_id,
        "last_code": record.last_code,
        "last_reason": record.last_reason,
        "updated_at": record.updated_at.isoformat(),
    }


@app.command("list")
def list_dispatches(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many dispatches, newest first.")
    ] = 20,
) -> None:
    """List the latest dispatches, newest first."""

    async def work(store: AuditStore) -> list[DispatchRecord]:
        return await store.dispatches(limit=limit)

    records = _with_store(work)
    if as_json:
        typer.echo(
            json.dumps([_dispatch_json(r) for r in records], indent=2, ensure_ascii=False, default=str)
        )
        return
    from rich.table import Table

    console = stdout_console()
    if not records:
        console.print("No dispatches recorded yet.")
        return
    table = Table(title="Dispatches (newest first)", title_justify="left")
    table.add_column("dispatch id", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    for column in ("state", "status", "delivered", "failed", "headline"):
        table.add_column(column)
    for r in records:
        message = r.message
        delivered, failed, planned = _totals(r.summary)
        table.add_row(
            r.dispatch_id,
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.state,
            f"{message.get('status', '')} {message.get('msg_type', '')}".strip(),
            f"{delivered}/{planned}" if delivered is not None else f"-/{planned}",
            str(failed) if failed is not None else "-",
            str(message.get("headline", "")),
            style="red" if failed else None,
        )
    console.print(table)


def _totals(summary: Any) -> tuple[int | None, int | None, int]:
    """(delivered, failed, planned) from a dispatch summary; None before the run finished."""
    counts = summary.get("counts") or {}
    planned = sum(int(v) for v in counts.values()) if isinstance(counts, dict) else 0
    report = summary.get("report") or {}
    channels = report.get("channels") if isinstance(report, dict) else None
    if not isinstance(channels, dict):
        return None, None, planned
    delivered = sum(int(c.get("delivered", 0)) for c in channels.values())
    failed = sum(int(c.get("failed", 0)) for c in channels.values())
    return delivered, failed, planned


@app.command("show")
def show(
    dispatch_id: Annotated[str, typer.Argument(help="The dispatch id (from audit list or the send report).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    events: Annotated[bool, typer.Option("--events", help="Also list every audit event.")] = False,
) -> None:
    """Show one dispatch: message, approval, every delivery's state (and its events)."""

    async def work(
        store: AuditStore,
    ) -> tuple[DispatchRecord | None, list[DeliveryRecord], list[JsonObject]]:
        from crisiscast.audit.views import ChainViews

        views = ChainViews(store)  # what the events say, not the caches a database edit could change
        record = await views.dispatch(dispatch_id)
        if record is None:
            return None, [], []
        deliveries = await views.deliveries(dispatch_id)
        rows = [e.to_json() async for e in store.events(dispatch_id)] if (events or as_json) else []
        return record, deliveries, rows

    record, deliveries, rows = _with_store(work)
    if record is None:
        fail(f"No dispatch {dispatch_id} in the audit store; run crisiscast audit list to see the ids.")
    if as_json:
        data = _dispatch_json(record)
        data["deliveries"] = [_delivery_json(d) for d in deliveries]
        data["events"] = rows
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    _print_dispatch(record, deliveries, rows if events else [])


def _print_dispatch(
    record: DispatchRecord, deliveries: list[DeliveryRecord], rows: list[JsonObject]
) -> None:
    from rich.table import Table

    console = stdout_console()
    m = record.message
    console.print(f"Dispatch {record.dispatch_id} · {record.state} · created {record.created_at.isoformat()}")
    console.print(
        f"{m.get('status', '')} {m.get('msg_type', '')} · {m.get('severity', '')}: {m.get('headline', '')}"
    )
    approval = record.summary.get("approval") or {}
    if approval:
        who = approval.get("approver") or approval.get("approvers") or "?"
        console.print(
            f"Approved by {who} ({approval.get('method', '?')}, confirmed: {approval.get('confirmed')})"
        )
    for item in record.summary.get("skipped") or ():
        console.print(f"Skipped {item.get('channel')}: {item.get('reason')}", style="yellow", markup=False)
    if record.state == "draft":
        _print_draft_preview(record)
        return
    table = Table(title="Deliveries", title_justify="left")
    for column in ("channel", "target", "part", "state", "attempts", "provider id", "last error"):
        folds = column in ("target", "provider id", "last error")  # long values wrap, never squeeze the rest
        table.add_column(column, overflow="fold" if folds else "ellipsis", no_wrap=not folds)
    for d in deliveries:
        error = " ".join(x for x in (d.last_code or "", d.last_reason or "") if x)
        style = "green" if d.state.value == "delivered" else ("red" if d.state.value == "failed" else "")
        table.add_row(
            d.delivery.channel,
            d.delivery.target,
            str(d.delivery.part),
            d.state.value,
            str(d.attempts),
            d.provider_id or "",
            error,
            style=style,
        )
    console.print(table)
    if rows:
        events = Table(title="Events", title_justify="left")
        for column in ("seq", "at", "kind", "delivery", "data"):
            events.add_column(column)
        for row in rows:
            events.add_row(
                str(row["seq"]),
                str(row["at"]),
                str(row["kind"]),
                str(row.get("delivery_key") or ""),
                json.dumps(row.get("data"), ensure_ascii=False, default=str)[:120],
            )
        console.print(events)


def _print_draft_preview(record: DispatchRecord) -> None:
    """A draft has no deliveries yet: show what each channel will get, so an approver reads
    exactly what they approve (the same preview ``send`` shows)."""
    from crisiscast.cli.preview import build_preview, print_preview
    from crisiscast.message import CrisisMessage

    settings, _ = load_config(logs=False)
    message = CrisisMessage.model_validate(dict(record.message))
    print_preview(stdout_console(), build_preview(message, settings))


@app.command("keygen")
def keygen(
    key_file: Annotated[
        Path,
        typer.Argument(help="Where to write the private key (mode 0600); the public key goes to FILE.pub."),
    ] = Path("var/crisiscast/audit-signing.key"),
) -> None:
    """Create the Ed25519 key that signs audit checkpoints; print its public key."""
    from crisiscast.cli.audit_evidence import run_keygen

    run_keygen(key_file)


@app.command("verify")
def verify(
    export_file: Annotated[
        Path | None,
        typer.Argument(
            help="Verify this exported file (JSONL or .csv) on its own instead of the store.",
            show_default=False,
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The audit public key (PEM) to check signed checkpoints with.",
            show_default=False,
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="The checkpoint file (default: [store] checkpoint_file).",
            show_default=False,
        ),
    ] = None,
    views: Annotated[
        bool,
        typer.Option(
            "--views/--no-views",
            help="Also rebuild the dispatches and deliveries views from the events and compare "
            "them with the store's (--no-views: the chain and the checkpoints only, several times faster).",
        ),
    ] = True,
) -> None:
    """Check the hash chain against the signed checkpoints and the views; exit 3 naming what is wrong."""
    if export_file is not None:
        _verify_export_file(export_file, public_key)
        return
    from crisiscast.cli.audit_evidence import collect_checkpoints, print_report, public_key_for

    settings, _ = load_config()
    key = public_key_for(settings.store, public_key)
    if checkpoints is not None and not checkpoints.is_file():
        fail(f"The checkpoint file {checkpoints} does not exist; check the path.")

    async def work(store: AuditStore) -> Any:
        from crisiscast.audit.evidence import verify_evidence

        found = await collect_checkpoints(settings.store, store, checkpoints)
        if found and key is None:
            fail(
                f"There are {len(found)} signed checkpoints but no public key to check them; "
                "pass --public-key FILE (the .pub file audit keygen wrote)."
            )
        return await verify_evidence(store, found, key, views=views)

    print_report(_with_store(work))


def _verify_export_file(export_file: Path, public_key: Path | None) -> None:
    from crisiscast.audit.export import verify_export

    if not export_file.is_file():
        fail(f"The export file {export_file} does not exist; check the path.")
    key = None
    if public_key is not None:
        from crisiscast.audit.signing import load_public_key

        if not public_key.is_file():
            fail(f"The public key file {public_key} does not exist; check the path.")
        key = load_public_key(public_key)
    result = verify_export(export_file, public_key=key)
    what = f"Export {export_file}"
    if result.ok:
        stdout_console().print(
            f"{what} OK: {result.events_checked} events verified{result.note}.",
            style="green",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_OK)
    where = f"event {result.first_bad_seq}" if result.first_bad_seq is not None else "the chain"
    fail(f"{what} BROKEN at {where}: {result.problem}", EXIT_FAILED)


@app.command("export")
def export(
    dispatch_id: Annotated[
        str | None, typer.Argument(help="Only this dispatch (default: every event).", show_default=False)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this file (default: stdout).", show_default=False),
    ] = None,
) -> None:
    """Export audit events as JSONL (verifiable on its own: audit verify FILE) or CSV."""
    import sys
    from contextlib import ExitStack

    from crisiscast.audit.export import export_csv, export_jsonl
    from crisiscast.private_files import open_private

    fmt = fmt.lower()
    if fmt not in ("jsonl", "csv"):
        fail(f"The export format {fmt!r} is not supported; use --format jsonl or --format csv.")

    settings, _ = load_config(logs=False)
    group = settings.store.file_group if out is not None else None

    async def work(store: AuditStore) -> int:
        if dispatch_id is not None and await store.dispatch(dispatch_id) is None:
            fail(f"No dispatch {dispatch_id} in the audit store; run crisiscast audit list to see the ids.")
        from crisiscast.cli.audit_evidence import export_checkpoint

        checkpoint = await export_checkpoint(settings.store, store, dispatch_id) if fmt == "jsonl" else None
        with ExitStack() as stack:
            stream = (
                stack.enter_context(  # created 0600 (0640 for [store] file_group)
                    open_private(out, "w", group, encoding="utf-8", newline="")
                )
                if out is not None
                else sys.stdout
            )
            if fmt == "csv":
                count = await export_csv(store, dispatch_id, stream)
            else:
                count = await export_jsonl(store, dispatch_id, stream, checkpoint=checkpoint)
            stream.flush()
        return count

    count = _with_store(work)
    if out is not None:
        typer.echo(f"Exported {count} events to {out}.", err=True)
