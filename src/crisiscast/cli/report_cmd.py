"""``crisiscast report DISPATCH_ID`` (or ``--from/--to``): the after-action report, HTML and PDF.

Reads the audit events only (never the caches), verified against the signed checkpoints in
the same walk; writes ``report-<name>.html`` and ``.pdf`` to ``--out-dir``. A drill report
(any Exercise or Test dispatch) says EXERCISE on every page.

Exit codes: 0 written and the audit verifies; 3 written, but the audit does not verify (the
report's verification block says why); 2 bad input (unknown id, nothing in the range).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import EXIT_FAILED, fail, load_config, run_async, stderr_console, stdout_console

if TYPE_CHECKING:
    from crisiscast.report.model import ReportData

__all__ = ["report"]


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{name} {text!r} is not a date or time; write it like 2026-05-01 or 2026-05-01T14:30.")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def report(
    dispatch_id: Annotated[
        str | None,
        typer.Argument(help="The dispatch (its Updates and all-clear are included).", show_default=False),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Every dispatch created from this time (UTC unless given).")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="... up to this time.")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Where to write the HTML and PDF.")] = Path(
        "."
    ),
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The audit public key for the verification block.")
    ] = None,
) -> None:
    """Write the after-action report (HTML and PDF) of one dispatch or of a time range."""
    if (dispatch_id is None) == (since is None and until is None):
        fail("Name one dispatch id, or a time range with --from and/or --to (not both).")
    start, end = _when(since, "--from"), _when(until, "--to")
    settings, _ = load_config()

    async def work() -> ReportData:
        from crisiscast.audit.open import open_store
        from crisiscast.audit.signing import fingerprint
        from crisiscast.cli.audit_evidence import collect_checkpoints, public_key_for
        from crisiscast.report.model import build_report

        key = public_key_for(settings.store, public_key)
        store = open_store(settings.store.url, batch_max_events=settings.store.batch_max_events)
        await store.open()
        try:
            found = await collect_checkpoints(settings.store, store, None)
            if found and key is None:
                fail(
                    "The audit has signed checkpoints but no public key to check them; "
                    "pass --public-key FILE."
                )
            return await build_report(
                store,
                [dispatch_id] if dispatch_id else None,
                since=start,
                until=end,
                checkpoints=found,
                key=key,
                key_fingerprint=fingerprint(key) if key is not None else None,
                now=datetime.now(UTC),
            )
        finally:
            await store.close()

    data = run_async(work)
    if not data.dispatches:
        what = f"no dispatch {dispatch_id}" if dispatch_id else "no dispatch in that time range"
        fail(f"The audit has {what}; run crisiscast audit list to see the ids and times.")
    from crisiscast.report.html import render_html
    from crisiscast.report.pdf import render_pdf

    name = dispatch_id or f"{(start or end or datetime.now(UTC)).strftime('%Y%m%d-%H%M')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = settings.policy.exercise_marker
    html_path, pdf_path = out_dir / f"report-{name}.html", out_dir / f"report-{name}.pdf"
    html_path.write_text(render_html(data, exercise_marker=marker), encoding="utf-8")
    pages = render_pdf(data, pdf_path, exercise_marker=marker)
    stdout_console().print(
        f"Wrote {html_path} and {pdf_path} ({pages} pages, {len(data.dispatches)} dispatches).",
        markup=False,
        soft_wrap=True,
    )
    if not data.evidence.ok:
        stderr_console().print(
            f"The audit does not verify: {data.evidence.problems[0]} The report says so.",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILED)
