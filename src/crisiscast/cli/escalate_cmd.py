"""``crisiscast escalate show|run-due|stop DISPATCH_ID``: a dispatch's escalation, by hand.

- ``show``: the steps, when each is due, which ran (for how many people) and any stop;
- ``run-due``: run the steps that are due now (what ``serve`` does every ``--escalation-tick-s``;
  for when no ``serve`` runs). Each step is claimed in the store, so a running ``serve`` and
  this command never both run it;
- ``stop``: stop escalating (recorded with who and why); planned steps not yet sent are cancelled.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from crisiscast.cli.common import load_config, operator_name, run_async, stdout_console

if TYPE_CHECKING:
    from crisiscast.escalation.schedule import EscalationState

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Show, run or stop a dispatch's escalation steps.")

DispatchId = Annotated[str, typer.Argument(help="The dispatch id of a message with escalation steps.")]


@app.command("show")
def show(
    dispatch_id: DispatchId,
    as_json: Annotated[bool, typer.Option("--json", help="Print the escalation as JSON.")] = False,
) -> None:
    """Show the steps, when each is due, which ran and whether escalation stopped."""
    settings, _ = load_config()

    async def run() -> EscalationState | None:
        from crisiscast.audit.open import store_from_config
        from crisiscast.escalation.schedule import read_escalation

        store = store_from_config(settings.store)
        await store.open()
        try:
            return await read_escalation(store, dispatch_id)
        finally:
            await store.close()

    from crisiscast.escalation.view import describe_state, step_entries

    state = run_async(run)
    if state is None:
        from crisiscast.errors import UserError

        raise UserError(
            f"The dispatch {dispatch_id[:80]} has no escalation steps; "
            "check the id with crisiscast audit list."
        )
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps(describe_state(state, now), indent=2, ensure_ascii=False))
        return
    console = stdout_console()
    console.print(f"Escalation of {dispatch_id}", markup=False)
    for step, entry in zip(state.steps, step_entries(state, now), strict=True):
        line = (
            f"  {step.step}. after {step.after_min:g} min ({step.due_at:%H:%M:%S} UTC): {step.action.value}"
        )
        if entry["status"] == "done":
            line += f" — done: {entry['people']} people, {entry['deliveries']} deliveries"
            not_reached = entry["not_reached"]
            if isinstance(not_reached, list) and not_reached:
                line += f", {len(not_reached)} could not be reached"
        else:
            line += f" — {entry['status']}"
        console.print(line, markup=False)
    if state.stopped is not None:
        console.print(f"Stopped: {state.stopped}.", markup=False)


@app.command("run-due")
def run_due(dispatch_id: DispatchId) -> None:
    """Run the steps that are due now (``serve`` does this by itself)."""
    settings, secrets = load_config()

    async def run() -> list[str]:
        from crisiscast.audit.open import store_from_config
        from crisiscast.dispatch import Dispatcher
        from crisiscast.escalation.loop import EscalationLoop

        store = store_from_config(settings.store)
        await store.open()
        try:
            dispatcher = Dispatcher.configured(store, settings)
            loop = EscalationLoop(settings, secrets, dispatcher, owner=f"cli-{socket.gethostname()}")
            outcomes = await loop.run_due(dispatch_id)
        finally:
            await store.close()
        return [
            f"Step {o.step} ({o.action}): {o.people} people without an answer, {o.deliveries} deliveries"
            + (f", {o.not_reached} could not be reached" if o.not_reached else "")
            for o in outcomes
        ]

    lines = run_async(run)
    console = stdout_console()
    for line in lines or ["No step is due now (see crisiscast escalate show)."]:
        console.print(line, markup=False)


@app.command("stop")
def stop(
    dispatch_id: DispatchId,
    reason: Annotated[str, typer.Option("--reason", help="Why escalation stops (recorded in the audit).")],
) -> None:
    """Stop escalating: no further step runs; planned steps not yet sent are cancelled."""
    settings, _ = load_config()
    who = operator_name(settings.policy.shared_console_accounts)

    async def run() -> str:
        from crisiscast.audit.open import store_from_config
        from crisiscast.escalation.stop import stop_escalation

        store = store_from_config(settings.store)
        await store.open()
        try:
            result = await stop_escalation(store, dispatch_id, who=who, reason=reason)
        finally:
            await store.close()
        if result.already is not None:
            return f"Escalation of {dispatch_id} had already stopped: {result.already}."
        return (
            f"Escalation of {dispatch_id} stopped: {result.steps_left} steps will not run, "
            f"{result.cancelled} planned deliveries cancelled."
        )

    stdout_console().print(run_async(run), markup=False)
