"""``crisiscast resume [DISPATCH_ID]``: finish what a crash (or a held in-doubt delivery) left open.

Picks up every unfinished dispatch (or the one named): pending deliveries are sent, in-doubt
ones are first reconciled with the provider so that only what the provider does not have is
sent again; when a provider cannot be asked, the configured in-doubt policy decides and
every such resend is flagged ``ambiguous_resend`` in the audit. Channels are rebuilt from the
stored message with the current configuration and secrets.

``--timing`` prints how long it took from this process starting to its first provider
request (the restart → first resumed request figure).

Exit codes: 0 nothing left open and nothing failed (also when there was nothing to resume);
3 a delivery failed or is still in doubt; 2 bad configuration or an unknown dispatch id.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from crisiscast.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    load_config,
    run_sending,
    stderr_console,
    stdout_console,
)
from crisiscast.jsontypes import JsonObject

__all__ = ["resume"]


def resume(
    dispatch_id: Annotated[
        str | None,
        typer.Argument(help="Resume only this dispatch (default: every unfinished one).", show_default=False),
    ] = None,
    timing: Annotated[
        bool, typer.Option("--timing", help="Print the time from start-up to the first provider request.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the reports as JSON on stdout (progress goes to stderr).")
    ] = False,
) -> None:
    """Resume every unfinished dispatch after a crash: send what is pending, reconcile what is in doubt."""
    from crisiscast.cli.progress import print_report, report_json
    from crisiscast.dispatch.resume import FirstRequest

    settings, secrets = load_config()
    first = FirstRequest()
    resumed = run_sending(lambda: _run(settings, secrets, dispatch_id, first))
    console = stderr_console() if as_json else stdout_console()
    if as_json:
        out: JsonObject = {"dispatches": [report_json(r.report, r.skipped) for r in resumed]}
        if timing:
            out["first_request_after_start_s"] = first.since_start_s
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        if not resumed:
            console.print("Nothing to resume: every dispatch in the audit store is finished.")
        for r in resumed:
            print_report(console, r.report, skipped=r.skipped)
    if timing:
        elapsed = first.since_start_s
        figure = "no provider request was needed" if elapsed is None else f"{elapsed:.3f} s"
        stderr_console().print(f"Restart to first resumed request: {figure}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK if all(r.report.ok for r in resumed) else EXIT_FAILED)


async def _run(settings: Any, secrets: Any, dispatch_id: str | None, first: Any) -> list[Any]:
    from crisiscast.audit.open import store_from_config
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.resume import resume_unfinished

    store = store_from_config(settings.store)
    await store.open()
    try:
        dispatcher = Dispatcher.configured(store, settings)
        return await resume_unfinished(
            settings, secrets, dispatcher, dispatch_id=dispatch_id, first_request=first
        )
    finally:
        await store.close()
