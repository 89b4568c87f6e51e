"""The ``Dispatcher``: plan → persist → fan out → report; cancel; resume after a crash.

``plan`` renders every channel and persists the plan and the approval before anything is
sent: in ONE audit write when it fits ``plan_chunk_size`` deliveries, else chunk by chunk
(``crisiscast.dispatch.chunks``); with ``stream`` (``dispatch`` uses it) only the first chunk
is written before ``plan`` returns, and ``run`` sends each later chunk once it is durable.
``run`` fans out: one task per channel, a failure in one never
cancels or delays another. ``cancel`` stops a running dispatch at once (every wait of every
delivery is woken; only requests already on the wire finish). A dispatch running in another
process notices the cancel from the store within about half a second. ``resume`` picks up
a dispatch from the store: a plan cut short by a crash is completed first
(``crisiscast.dispatch.resume_plan``), then pending deliveries are sent, in-doubt ones
reconciled first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from crisiscast.audit.base import AuditStore, DispatchRecord
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.stored_plan import stored_plan
from crisiscast.audit.views import ChainViews
from crisiscast.channels.base import Channel, RenderContext
from crisiscast.delivery import ChannelReport, Delivery, DispatchReport, Failure
from crisiscast.dispatch.cancel import CancelToken
from crisiscast.dispatch.chunks import DEFAULT_PLAN_CHUNK_SIZE, WHOLE_PLAN, PlanWriter
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.dispatch.fanout import run_channel
from crisiscast.dispatch.forecasting import plan_forecast
from crisiscast.dispatch.limiter import LimiterRegistry, default_registry
from crisiscast.dispatch.plan import Plan, new_dispatch_id, render_all
from crisiscast.dispatch.resume_plan import complete_plan, partial_plans, plan_cut_short
from crisiscast.dispatch.retry import RetryPolicy
from crisiscast.dispatch.state import IN_DOUBT_POLICIES, ChannelRun, ProgressCallback, RunState
from crisiscast.errors import StoreError, UserError
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage
from crisiscast.preflight.settings import PreflightConfig

if TYPE_CHECKING:
    from crisiscast.config import Settings

__all__ = ["CANCEL_POLL_S", "Dispatcher", "unfinished_dispatches"]

log = structlog.get_logger(__name__)

CANCEL_POLL_S = 0.5  # how often a run checks the store for a cancel from another process

# runs in this process per dispatch (a worker may run several leased batches of one dispatch
# at once), so that any Dispatcher here can cancel all of them at once
_RUNNING: dict[str, set[CancelToken]] = {}


async def unfinished_dispatches(store: AuditStore, *, limit: int = 1000) -> list[DispatchRecord]:
    """Dispatches with pending or in-doubt deliveries, or whose plan a crash cut short, newest
    first (what resume should pick up)."""
    open_ones = await store.dispatches(limit=limit, unfinished=True)
    known = {r.dispatch_id for r in open_ones}
    cut_short = [r for r in await partial_plans(store, limit=limit) if r.dispatch_id not in known]
    if not cut_short:
        return open_ones
    both = sorted([*open_ones, *cut_short], key=lambda r: (r.created_at, r.dispatch_id), reverse=True)
    return both[:limit]


class Dispatcher:
    """Sends one approved message to many channels at once, audited. See the module docstring.

    ``limiters`` defaults to the process-wide registry, so concurrent dispatches share each
    provider account's limits. ``in_doubt_policy`` (``severe_resend``, ``resend``, ``hold``)
    decides what happens to an in-doubt delivery the provider cannot be asked about.
    ``manage_channels``: ``run`` calls ``start``/``aclose`` on the plan's channels.
    ``preflight`` (``[preflight]``) paces the arrival forecast recorded with each plan.
    ``plan_chunk_size``: deliveries per plan transaction (``[store] plan_chunk_size``);
    ``plan_first_chunk_size``: the first one's, when smaller (``[store] plan_first_chunk_size``).
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        limiters: LimiterRegistry | None = None,
        in_doubt_policy: str = "severe_resend",
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        manage_channels: bool = True,
        clock: Callable[[], float] = time.monotonic,
        preflight: PreflightConfig | None = None,
        plan_chunk_size: int = DEFAULT_PLAN_CHUNK_SIZE,
        plan_first_chunk_size: int | None = None,
    ) -> None:
        if in_doubt_policy not in IN_DOUBT_POLICIES:
            raise ValueError(f"in_doubt_policy must be one of {', '.join(IN_DOUBT_POLICIES)}")
        self.store = store
        self.limiters = limiters if limiters is not None else default_registry()
        self.in_doubt_policy = in_doubt_policy
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.manage_channels = manage_channels
        self.clock = clock
        self.preflight = preflight if preflight is not None else PreflightConfig()
        self.plan_chunk_size = plan_chunk_size
        self.plan_first_chunk_size = plan_first_chunk_size
        self._writers: dict[str, PlanWriter] = {}  # plans still being written (stream), by dispatch

    @classmethod
    def configured(
        cls,
        store: AuditStore,
        settings: Settings,
        *,
        whole_plans: bool = False,
        limiters: LimiterRegistry | None = None,
    ) -> Dispatcher:
        """The dispatcher a crisiscast command runs: ``[policy] in_doubt_policy``, ``[preflight]``,
        and the plan chunks of ``[store]`` (``whole_plans``: every plan in one transaction, as a
        lease worker needs)."""
        return cls(
            store,
            limiters=limiters,
            in_doubt_policy=settings.policy.in_doubt_policy,
            preflight=settings.preflight,
            plan_chunk_size=WHOLE_PLAN if whole_plans else settings.store.plan_chunk_size,
            plan_first_chunk_size=None if whole_plans else settings.store.plan_first_chunk_size,
        )

    async def plan(
        self,
        message: CrisisMessage,
        channels: Sequence[Channel],
        *,
        approval: JsonMapping,
        dispatch_id: str | None = None,
        skipped: Sequence[tuple[str, str]] = (),
        reply_to: Mapping[str, str] | None = None,
        only_targets: Mapping[str, frozenset[str]] | None = None,
        phi_override: str | None = None,
        stream: bool = False,
    ) -> Plan:
        """Render every channel and persist the plan + approval. Sends nothing.

        A plan of more than ``plan_chunk_size`` deliveries is written chunk by chunk; with
        ``stream`` only its first chunk is durable when this returns, the rest is written in
        the background while ``run`` (which must follow) sends what is durable. A follow-up
        restricted to the original's reach (``only_targets``) is always written in one
        transaction: a resume could not render it again.
        """
        dispatch_id = dispatch_id or new_dispatch_id()
        ctx = RenderContext(
            dispatch_id=dispatch_id,
            reply_to=dict(reply_to or {}),
            only_targets=only_targets,
            phi_override=phi_override,
        )
        by_name, deliveries, failed = render_all(message, channels, ctx)
        plan = Plan(
            dispatch_id=dispatch_id,
            message=message,
            channels=by_name,
            deliveries=deliveries,
            approval=dict(approval),
            skipped=list(skipped),
            failed=failed,
            forecast=plan_forecast(deliveries, by_name, self.preflight),
        )
        if only_targets is None:
            chunk_size, first_size = self.plan_chunk_size, self.plan_first_chunk_size
        else:
            chunk_size, first_size = WHOLE_PLAN, None
        writer = PlanWriter(self.store, plan, chunk_size, first_chunk_size=first_size, render=ctx)
        await writer.write_first()
        if stream and writer.chunks > 1:
            failpoint("after_plan_stored")
            self._writers[dispatch_id] = writer
            writer.start_rest()
        else:
            await writer.write_rest()
            if writer.durable.failure is not None:
                raise StoreError(f"The plan could not be recorded in full: {writer.durable.failure}")
            failpoint("after_plan_stored")
        log.info("dispatch_planned", dispatch_id=dispatch_id, counts=plan.counts, skipped=len(skipped))
        return plan

    async def dispatch(
        self,
        message: CrisisMessage,
        channels: Sequence[Channel],
        *,
        approval: JsonMapping,
        progress: ProgressCallback | None = None,
        **kw: Any,
    ) -> DispatchReport:
        """``plan`` (streamed: sending starts once its first chunk is durable) then ``run``."""
        plan = await self.plan(message, channels, approval=approval, stream=True, **kw)
        return await self.run(plan, progress=progress)

    async def run(
        self, plan: Plan, *, progress: ProgressCallback | None = None, record_finish: bool = True
    ) -> DispatchReport:
        """Send every planned delivery; return the report. Never raises for a channel's failure.

        ``record_finish`` False leaves out the ``dispatch_finished`` event: a worker running
        only its leased share of a dispatch records it once the whole dispatch is done.
        """
        writer = self._writers.pop(plan.dispatch_id, None)
        try:
            return await self._run(plan, writer, progress=progress, record_finish=record_finish)
        finally:
            if writer is not None and writer.task is not None:
                await writer.task  # never raises: a failed chunk is writer.durable.failure

    async def _run(
        self,
        plan: Plan,
        writer: PlanWriter | None,
        *,
        progress: ProgressCallback | None,
        record_finish: bool,
    ) -> DispatchReport:
        started = self.clock()
        token = CancelToken()
        record = await self.store.dispatch(plan.dispatch_id)
        if record is not None and record.state == "cancelled":
            token.cancel(_cancel_reason(record))
        run = RunState(
            dispatch_id=plan.dispatch_id,
            message=plan.message,
            store=self.store,
            token=token,
            in_doubt_policy=self.in_doubt_policy,
            clock=self.clock,
            expires_at=self._expires_at(plan.message),
            progress=progress,
            prior=plan.prior,
            durable=writer.durable if writer is not None else None,
        )
        run.open_gates(plan.all_deliveries())
        report = DispatchReport(dispatch_id=plan.dispatch_id)
        for name, reason in plan.skipped:
            report.channels[name] = ChannelReport(channel=name, note=reason)
        for failure in plan.failed:
            key = f"{plan.dispatch_id}:{failure.channel}:render"
            report.channels[failure.channel] = ChannelReport(
                channel=failure.channel,
                failed=[Failure(key=key, target="", code=failure.code, reason=failure.reason)],
                note=failure.reason,
            )
        runs: list[tuple[ChannelRun, list[Delivery]]] = []
        for name, deliveries in plan.deliveries.items():
            if name in report.channels:
                continue
            channel = plan.channels.get(name)
            cr_report = ChannelReport(channel=name, planned=len(deliveries))
            report.channels[name] = cr_report
            if channel is None:
                cr_report.note = "not sent: the channel is not available in this process"
                run.hold_gates(deliveries)  # nothing chained after these may wait for them
                continue
            cr = ChannelRun(
                channel=channel,
                limiter=self.limiters.get(channel.account, channel.limits),
                policy=RetryPolicy.for_limits(
                    channel.limits, base_s=self.backoff_base_s, cap_s=self.backoff_cap_s
                ),
                report=cr_report,
            )
            runs.append((cr, deliveries))
        _RUNNING.setdefault(plan.dispatch_id, set()).add(token)
        watcher = asyncio.create_task(self._watch_cancel(run))
        try:
            await asyncio.gather(*(self._run_channel(run, cr, ds) for cr, ds in runs))
        finally:
            watcher.cancel()
            tokens = _RUNNING.get(plan.dispatch_id)
            if tokens is not None:
                tokens.discard(token)
                if not tokens:
                    del _RUNNING[plan.dispatch_id]
        report.duration_s = self.clock() - started
        if writer is not None:
            await writer.durable.wait_written()  # dispatch_finished comes after dispatch_plan_completed
        if record_finish:
            await self.store.append(
                [AuditEvent(EventKind.DISPATCH_FINISHED, plan.dispatch_id, _summary(report))]
            )
        log.info(
            "dispatch_finished", dispatch_id=plan.dispatch_id, ok=report.ok, duration_s=report.duration_s
        )
        return report

    async def cancel(self, dispatch_id: str, *, who: str, reason: str) -> None:
        """Record the cancel request; a run of that dispatch in this process stops at once.

        Runs in other processes notice within ``CANCEL_POLL_S``; a later ``resume`` of a
        cancelled dispatch marks its pending deliveries cancelled instead of sending them.
        An unknown id is a ``UserError``.
        """
        if dispatch_id not in _RUNNING and await self.store.dispatch(dispatch_id) is None:
            raise UserError(
                f"There is no dispatch {dispatch_id} in the audit store; check the id with `audit list`."
            )
        await self.store.append(
            [AuditEvent(EventKind.DISPATCH_CANCEL_REQUESTED, dispatch_id, {"who": who, "reason": reason})]
        )
        tokens = _RUNNING.get(dispatch_id, set())
        for token in list(tokens):
            token.cancel(reason)
        log.info("dispatch_cancel_requested", dispatch_id=dispatch_id, who=who, running_here=len(tokens))

    async def resume(
        self, dispatch_id: str, channels: Sequence[Channel], *, progress: ProgressCallback | None = None
    ) -> DispatchReport:
        """Finish a dispatch from its stored state (after a crash, or held in-doubt deliveries).

        Terminal deliveries are counted, not sent; pending ones are sent; in-doubt ones are
        reconciled with the provider first. Chains continue from the last delivered part.
        """
        views = ChainViews(self.store)  # from the events, never from caches an edit could redirect
        record = await views.dispatch(dispatch_id)
        if record is None:
            raise UserError(
                f"There is no dispatch {dispatch_id} in the audit store; check the id with `audit list`."
            )
        message = CrisisMessage.model_validate(record.message)
        cut_short = await complete_plan(
            self.store, record, message, channels, chunk_size=self.plan_chunk_size
        )
        if plan_cut_short(record):
            views = ChainViews(self.store)  # read again: the completion added deliveries
        stored = stored_plan(await views.replay(dispatch_id), dispatch_id)  # no record per delivery
        plan = Plan(
            dispatch_id=dispatch_id,
            message=message,
            channels={c.name: c for c in channels if c.name in stored.deliveries},
            deliveries=stored.deliveries,
            approval=dict(record.summary.get("approval") or {}),
            prior=stored.states,
        )
        del views, stored  # the replay's own key -> row dict goes; the plan keeps the rows it reads
        log.info("dispatch_resuming", dispatch_id=dispatch_id, deliveries=len(plan.prior))
        report = await self.run(plan, progress=progress)
        for name, reason in cut_short.items():
            channel_report = report.channels.get(name)
            if channel_report is not None:
                channel_report.note = reason
        return report

    async def unfinished(self, *, limit: int = 1000) -> list[DispatchRecord]:
        """``unfinished_dispatches`` of this dispatcher's store."""
        return await unfinished_dispatches(self.store, limit=limit)

    async def _run_channel(self, run: RunState, cr: ChannelRun, deliveries: list[Delivery]) -> None:
        try:
            await run_channel(run, cr, deliveries)
        except Exception:  # isolation: a bug here never reaches the other channels
            log.error(
                "channel_run_crashed", dispatch_id=run.dispatch_id, channel=cr.report.channel, exc_info=True
            )
            cr.report.note = "stopped by an internal error; resume the dispatch to finish it"
        finally:
            if self.manage_channels:
                try:
                    await cr.channel.aclose()
                except Exception:
                    log.warning("channel_close_failed", channel=cr.report.channel, exc_info=True)

    async def _watch_cancel(self, run: RunState) -> None:
        """Poll the store for a cancel recorded by another process."""
        while not run.token.cancelled:
            await asyncio.sleep(CANCEL_POLL_S)
            try:
                record = await self.store.dispatch(run.dispatch_id)
            except Exception:
                log.warning("cancel_poll_failed", dispatch_id=run.dispatch_id, exc_info=True)
                continue
            if record is not None and record.state == "cancelled":
                run.token.cancel(_cancel_reason(record))

    def _expires_at(self, message: CrisisMessage) -> float | None:
        if message.expires is None:
            return None
        return self.clock() + (message.expires - datetime.now(UTC)).total_seconds()


def _cancel_reason(record: DispatchRecord) -> str:
    cancel = record.summary.get("cancel") or {}
    return str(cancel.get("reason") or "cancelled")


def _summary(report: DispatchReport) -> JsonObject:
    """The finished event's data: counts per channel and the first failures (bounded size)."""
    channels: JsonObject = {}
    for name, r in report.channels.items():
        channels[name] = {
            "planned": r.planned,
            "delivered": r.delivered,
            "failed": len(r.failed),
            "cancelled": r.cancelled,
            "skipped": r.skipped,
            "in_doubt": r.in_doubt,
            "attempts": r.attempts,
            "duration_s": round(r.duration_s, 3),
            "failures": [{"key": f.key, "code": f.code, "reason": f.reason} for f in r.failed[:20]],
            "note": r.note,
        }
    return {"ok": report.ok, "duration_s": round(report.duration_s, 3), "channels": channels}
