"""The async work behind the lifecycle commands: store access, follow-up planning, dispatch.

Kept apart from ``lifecycle_cmds`` (the typer commands: arguments, prompts, output) so that
``crisiscast --help`` imports none of it. Every function opens the audit store itself and
closes it before returning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crisiscast.audit.base import AuditStore
from crisiscast.audit.open import store_from_config
from crisiscast.errors import ConfigError, UserError
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.lifecycle.approval import Verdict, rule_for, verdict
from crisiscast.lifecycle.drafts import check_sendable, create_draft
from crisiscast.lifecycle.followup import Reach, build_follow_up, follow_up_notes, lineage_reach
from crisiscast.lifecycle.sending import Outgoing, claim_send, prepare_outgoing
from crisiscast.lifecycle.stop import StopOutcome, stop_dispatch
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.phases import mark
from crisiscast.templates import TemplateCatalog, load_templates

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.config import Secrets, Settings
    from crisiscast.delivery import DispatchReport

__all__ = [
    "Candidate",
    "catalog_of",
    "follow_up_candidate",
    "open_store",
    "render_template",
    "run_outgoing",
    "send_candidate",
    "stop_lineage",
]


def catalog_of(settings: Settings) -> TemplateCatalog:
    return load_templates(settings.resolve(settings.templates_dir), settings.preflight)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[AuditStore]:
    store = store_from_config(settings.store)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def render_template(
    catalog: TemplateCatalog,
    template_id: str,
    variables: Mapping[str, str],
    *,
    status: Status = Status.ACTUAL,
    msg_type: MsgType = MsgType.ALERT,
    references: Sequence[str] = (),
) -> CrisisMessage:
    """A message from an installed template (``TemplateError`` names what is wrong)."""
    return catalog.get(template_id).render(variables, status=status, msg_type=msg_type, references=references)


@dataclass(slots=True)
class Candidate:
    """A message about to be drafted or sent, with the policy's verdict for its author."""

    message: CrisisMessage
    source: str  # file, template
    verdict: Verdict
    follow_up: dict[str, str] | None = None
    reach: Reach | None = None
    note: str = ""  # what a follow-up does beyond the preview (SMS reach, X reply)


def candidate(
    message: CrisisMessage, source: str, author: str, settings: Settings, draft_id: str = "(new)"
) -> Candidate:
    rule = rule_for(message, settings.policy, author=author, from_template=source == "template")
    return Candidate(message, source, verdict(draft_id, author, [], rule, settings.policy))


async def follow_up_candidate(
    settings: Settings,
    dispatch_id: str,
    kind: str,
    author: str,
    *,
    file_message: CrisisMessage | None = None,
    template_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    all_clear_text: str | None = None,
) -> Candidate:
    """The Update (``kind`` "update") or all-clear ("cancel") of ``dispatch_id``, not yet stored."""
    async with open_store(settings) as store:
        reach = await lineage_reach(store, dispatch_id)
    message, from_template = build_follow_up(
        reach,
        kind,
        catalog_of(settings),
        author=author,
        message=file_message,
        template_id=template_id,
        variables=variables,
        all_clear_text=all_clear_text,
    )
    source = "template" if from_template else "file"
    result = candidate(message, source, author, settings)
    result.follow_up = {"kind": kind, "of": dispatch_id, "root": reach.root.dispatch_id}
    result.reach = reach
    result.note = "; ".join(follow_up_notes(reach, message.channels or ()))
    return result


async def store_draft(settings: Settings, cand: Candidate, author: str) -> str:
    """Store ``cand`` as a draft; returns its id."""
    async with open_store(settings) as store:
        return await create_draft(
            store, cand.message, author=author, source=cand.source, follow_up=cand.follow_up
        )


async def check_draft(settings: Settings, draft_id: str, sender: str) -> CrisisMessage:
    """The draft's message when it may be sent now; else the refusal is recorded and raised."""
    async with open_store(settings) as store:
        draft, _, _ = await check_sendable(store, draft_id, sender, settings.policy, catalog_of(settings))
    return draft.message


async def send_candidate(
    settings: Settings,
    secrets: Secrets,
    *,
    sender: str,
    confirmed_with: str,
    console: Console,
    draft_id: str | None = None,
    cand: Candidate | None = None,
    phi_override: str | None = None,
    approval_extra: JsonMapping | None = None,
) -> tuple[DispatchReport, dict[str, str]]:
    """Send draft ``draft_id`` (or store ``cand`` as a draft first) under the approval policy.

    ``approval_extra`` is added to the approval record (a quality-gate override and its findings)."""
    catalog = catalog_of(settings)
    async with open_store(settings) as store:
        if draft_id is None:
            assert cand is not None
            draft_id = await create_draft(
                store, cand.message, author=sender, source=cand.source, follow_up=cand.follow_up
            )
        draft, rule, result = await check_sendable(store, draft_id, sender, settings.policy, catalog)
        outgoing = await prepare_outgoing(
            store,
            draft,
            rule,
            result,
            sender=sender,
            confirmed_with=confirmed_with,
            via="cli",
            phi_override=phi_override,
            extra=approval_extra,
        )
        return await run_outgoing(
            settings, secrets, store, outgoing, console=console, phi_override=phi_override
        )


async def run_outgoing(
    settings: Settings,
    secrets: Secrets,
    store: AuditStore,
    outgoing: Outgoing,
    *,
    console: Console,
    phi_override: str | None = None,
) -> tuple[DispatchReport, dict[str, str]]:
    """Plan (with the follow-up's reply_to/only_targets) and run with live progress."""
    from crisiscast.channels.registry import build_channels
    from crisiscast.cli.dispatching import progress_adapter
    from crisiscast.cli.forecast_view import ArrivalClock
    from crisiscast.cli.progress import LiveProgress
    from crisiscast.dispatch import Dispatcher

    channels, skipped = build_channels(settings, secrets, outgoing.message)
    skipped_map = dict([*outgoing.skipped, *skipped])
    if not channels:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped_map.items()) or "no channel is enabled"
        raise ConfigError(f"Nothing was sent: no channel can take this message ({reasons}).")
    await claim_send(store, outgoing.dispatch_id)
    dispatcher = Dispatcher.configured(store, settings)
    arrivals = ArrivalClock()
    plan = await dispatcher.plan(  # streamed: sending starts once the first chunk is durable
        outgoing.message,
        channels,
        approval=outgoing.approval,
        dispatch_id=outgoing.dispatch_id,
        skipped=list(skipped_map.items()),
        reply_to=outgoing.reply_to,
        only_targets=outgoing.only_targets,
        phi_override=phi_override,
        stream=True,
    )
    mark("plan")
    with LiveProgress(console) as view:
        for name, count in plan.counts.items():
            view.planned(name, count)
        report = await dispatcher.run(plan, progress=arrivals.wrap(progress_adapter(view)))
    report.forecast_vs_actual = arrivals.compare(plan.forecast)
    mark("fanout")
    return report, skipped_map


async def stop_lineage(settings: Settings, dispatch_id: str, *, who: str, reason: str) -> JsonObject:
    """Cancel ``dispatch_id`` (a draft is discarded) and wait until it is settled.

    Returns ``{"dispatch_id", "was_draft", "delivered", "cancelled", "failed", "in_doubt"}``.
    """
    async with open_store(settings) as store:
        record = await store.dispatch(dispatch_id)
        if record is None:
            raise UserError(
                f"There is no dispatch {dispatch_id[:80]} in the audit store; check the id with audit list."
            )
        if record.state == "draft":
            from crisiscast.dispatch import Dispatcher

            await Dispatcher(store).cancel(dispatch_id, who=who, reason=reason)
            return {"dispatch_id": dispatch_id, "was_draft": True}
        outcome: StopOutcome = await stop_dispatch(store, dispatch_id, who=who, reason=reason)
    return {
        "dispatch_id": dispatch_id,
        "was_draft": False,
        "delivered": outcome.delivered,
        "cancelled": outcome.cancelled,
        "failed": outcome.failed,
        "in_doubt": outcome.in_doubt,
    }
