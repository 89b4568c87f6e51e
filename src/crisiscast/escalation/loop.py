"""The escalation timer: due steps computed from the audit, each planned once across workers.

Each ``tick`` looks at the recent dispatches whose message has escalation steps, reads each
one's escalation from its events (``read_escalation``) and runs every due step:

1. claim the step in the store (``AuditStore.claim_step``: one owner at a time, across
   processes; a dead owner's claim lapses after ``claim_lease_s``);
2. read the audit again: a step another worker recorded meanwhile, or a stop, ends here;
3. build the roll-call and select who has not answered (``crisiscast.escalation.who``);
4. write ``escalation_step`` and the step's ``delivery_planned`` events in ONE audit write;
5. send them (``send=True``, the single-process ``serve``) through the ``Dispatcher``, or
   wake the lease workers that will (``on_planned``, ``serve --worker-id``).

A crash after 4 leaves the deliveries pending (or in doubt) in the store: the restart's
resume (or another worker's lease) sends them, reconciling in-doubt ones first. A crash
before 4 leaves nothing: the step is still due, and runs once the claim lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.registry import ChannelsFactory, build_channels
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.dispatch.plan import Plan
from crisiscast.escalation.on_call import RosterNextUp, roster_next_up
from crisiscast.escalation.schedule import EscalationState, PlannedStep, read_escalation, step_key
from crisiscast.escalation.steps import channel_for, step_deliveries
from crisiscast.escalation.stop import unsent_step_cancels
from crisiscast.escalation.who import NextUp, no_next_up, staff_contacts, who_has_not_answered
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage
from crisiscast.rollcall.view import build_rollcall

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore
    from crisiscast.config import Secrets, Settings
    from crisiscast.contacts import ContactsLoad
    from crisiscast.dispatch import Dispatcher

__all__ = ["EscalationLoop", "StepOutcome", "utc_now"]

log = structlog.get_logger(__name__)

DEFAULT_TICK_S = 5.0
DEFAULT_CLAIM_LEASE_S = 60.0
SCAN_DISPATCHES = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One step this loop planned: for how many people, how many deliveries, who was not reached."""

    dispatch_id: str
    step: int
    action: str
    people: int
    deliveries: int
    not_reached: int


class EscalationLoop:
    """Runs due escalation steps; see the module docstring.

    ``now`` is the clock (tests pass a controllable one). ``contacts`` gives the staff file
    (names, supervisors); ``next_up_for`` turns it into the ``NextUp`` seam — by default
    ``roster_next_up`` at the step's time (the supervisor, or the person the roster has on call).
    """

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        dispatcher: Dispatcher,
        *,
        owner: str,
        build: ChannelsFactory = build_channels,
        now: Callable[[], datetime] = utc_now,
        send: bool = True,
        on_planned: Callable[[str], None] | None = None,
        contacts: Callable[[], ContactsLoad | None] | None = None,
        next_up_for: Callable[[ContactsLoad | None], NextUp] | None = None,
        claim_lease_s: float = DEFAULT_CLAIM_LEASE_S,
        scan_limit: int = SCAN_DISPATCHES,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.dispatcher = dispatcher
        self.store: AuditStore = dispatcher.store
        self.owner = owner
        self.build = build
        self.now = now
        self.send = send
        self.on_planned = on_planned
        self.contacts = contacts or (lambda: staff_contacts(settings))
        self.next_up_for = next_up_for
        self.claim_lease_s = claim_lease_s
        self.scan_limit = scan_limit
        self._log = log.bind(owner=owner)
        self._settled: set[str] = set()  # dispatches whose escalation is over (done or stopped)

    async def run(
        self, stop: asyncio.Event, *, tick_s: float = DEFAULT_TICK_S, after: Awaitable[None] | None = None
    ) -> None:
        """Tick every ``tick_s`` until ``stop`` is set; start once ``after`` is done (the start-up
        resume, so that it never sends a step this loop is sending)."""
        if after is not None:
            await after
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                self._log.error("escalation_tick_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_s)

    async def tick(self) -> list[StepOutcome]:
        """Run every due step of the recent dispatches with escalation steps."""
        outcomes: list[StepOutcome] = []
        for record in await self.store.dispatches(limit=self.scan_limit):
            if record.state in ("draft", "cancelled") or not record.message.get("escalation"):
                continue
            if record.dispatch_id in self._settled:
                continue
            try:
                outcomes.extend(await self.run_due(record.dispatch_id))
            except Exception:  # one dispatch's trouble never holds up the others' steps
                self._log.error("escalation_dispatch_failed", dispatch_id=record.dispatch_id, exc_info=True)
        return outcomes

    async def sweep_stopped(self) -> int:
        """Cancel the unsent step deliveries of every recent stopped escalation; returns how many."""
        cancelled = 0
        for record in await self.store.dispatches(limit=self.scan_limit):
            if record.state == "draft" or not record.message.get("escalation"):
                continue
            state = await read_escalation(self.store, record.dispatch_id)
            if state is None or state.stopped is None:
                continue
            cancels = await unsent_step_cancels(
                self.store, record.dispatch_id, reason=state.stopped, now=self.now()
            )
            if cancels:
                await self.store.append(cancels)
                cancelled += len(cancels)
        return cancelled

    async def run_due(self, dispatch_id: str) -> list[StepOutcome]:
        """Run the due steps of one dispatch (``crisiscast escalate run-due``)."""
        state = await read_escalation(self.store, dispatch_id)
        if state is None:
            return []
        if state.stopped is not None:  # the all-clear or a cancel: planned steps not sent yet go too
            cancels = await unsent_step_cancels(self.store, dispatch_id, reason=state.stopped, now=self.now())
            if cancels:
                await self.store.append(cancels)
        if not state.pending():  # every step done, or stopped: never due again (only a shortcut)
            self._settled.add(dispatch_id)
            return []
        outcomes: list[StepOutcome] = []
        for step in state.due(self.now()):
            outcome = await self._run_step(dispatch_id, step)
            if outcome is None:
                break  # claimed elsewhere, stopped or done: later steps wait for the next tick
            outcomes.append(outcome)
        return outcomes

    async def _run_step(self, dispatch_id: str, step: PlannedStep) -> StepOutcome | None:
        key = step_key(dispatch_id, step.step)
        if not await self.store.claim_step(key, self.owner, lease_s=self.claim_lease_s):
            return None
        state = await read_escalation(self.store, dispatch_id)  # again, now that the step is ours
        if state is None or state.stopped is not None or step.step in state.done:
            return None
        record = await self.store.dispatch(dispatch_id)
        if record is None:
            return None
        message = CrisisMessage.model_validate(record.message)
        now = self.now()
        if message.is_expired(now):
            await self._stop_expired(state, now)
            return None
        contacts = self.contacts()
        rollcall = await build_rollcall(self.store, dispatch_id, contacts)
        people = who_has_not_answered(rollcall, step.action) if rollcall is not None else []
        name = channel_for(step.action) or step.action.value
        channels, _skipped = (
            ([], [])
            if not people
            else self.build(self.settings, self.secrets, message.model_copy(update={"channels": (name,)}))
        )
        channel = next((c for c in channels if c.name == name), None)
        next_up = await self._next_up(contacts, now) if people else no_next_up
        planned = step_deliveries(
            message,
            step,
            people,
            dispatch_id=dispatch_id,
            channel=channel,
            next_up=next_up,
            now=now,
            languages={c.phone: c.language for c in contacts.contacts} if contacts is not None else {},
        )
        data: JsonObject = {
            "step": step.step,
            "action": step.action.value,
            "after_min": step.after_min,
            "people": [p.number for p in people],
            "deliveries": [d.key for d in planned.deliveries],
            "not_reached": [{"number": n, "reason": r} for n, r in planned.not_reached.items()],
        }
        if isinstance(next_up, RosterNextUp):  # why each person's notice went where it did
            told = {n for d in planned.deliveries for n in d.payload["escalation"].get("for", ())}
            data["told_as"] = {n: why for n, why in sorted(next_up.why.items()) if n in told}
        events = [AuditEvent(EventKind.ESCALATION_STEP, dispatch_id, data, at=now)]
        events.extend(
            AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key, at=now)
            for d in planned.deliveries
        )
        await self.store.append(events)
        failpoint("after_escalation_step_planned")
        self._log.info(
            "escalation_step",
            dispatch_id=dispatch_id,
            step=step.step,
            action=step.action.value,
            people=len(people),
            deliveries=len(planned.deliveries),
        )
        if planned.deliveries and channel is not None and self.send:
            plan = Plan(
                dispatch_id=dispatch_id,
                message=message,
                channels={name: channel},
                deliveries={name: planned.deliveries},
                approval=dict(record.summary.get("approval") or {}),
            )
            await self.dispatcher.run(plan, record_finish=False)  # it closes the channel
        else:
            if planned.deliveries and self.on_planned is not None:
                self.on_planned(dispatch_id)  # a lease worker sends them
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.aclose()
        return StepOutcome(
            dispatch_id,
            step.step,
            step.action.value,
            people=len(people),
            deliveries=len(planned.deliveries),
            not_reached=len(planned.not_reached),
        )

    async def _next_up(self, contacts: ContactsLoad | None, now: datetime) -> NextUp:
        if self.next_up_for is not None:
            return self.next_up_for(contacts)
        # off the event loop: a URL schedule whose copy is stale is fetched (up to fetch_timeout_s)
        return await asyncio.to_thread(roster_next_up, self.settings, contacts, now)

    async def _stop_expired(self, state: EscalationState, now: datetime) -> None:
        data = {"who": "crisiscast", "reason": "the message expired"}
        await self.store.append([AuditEvent(EventKind.ESCALATION_STOPPED, state.dispatch_id, data, at=now)])
