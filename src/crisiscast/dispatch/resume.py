"""Resume after a crash: finish every unfinished dispatch from the audit store.

``resume_unfinished`` finds the dispatches with ``pending`` or ``in_doubt`` deliveries (or
the one asked for), rebuilds each one's channels from its stored message with the current
configuration (``channels.registry.build_channels``) and hands it to
``Dispatcher.resume`` (built with ``contacts_on_first_use``: the staff channels read their
contacts only if the plan has to be completed): pending deliveries are sent, in-doubt ones
are first reconciled with the provider (Twilio's message list, the X timeline, the Page
feed; banner and MQTT are re-published from state), terminal ones are only counted. All
dispatches resume at once.

``FirstRequest`` times the restart: every channel is wrapped so that the first provider
request of this process (a send or a reconcile) is stamped, and ``process_age_s`` says how
long ago the process started (Linux: from ``/proc``; elsewhere from when this module was
imported), so ``crisiscast resume --timing`` can print restart → first resumed request.

Failure modes: an unknown dispatch id is a ``UserError``; a channel that cannot be built
now (disabled, secret missing) is skipped with its reason and its deliveries stay open for a
later resume; a channel failing at run time fails only its own deliveries.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from crisiscast.channels.base import Channel, ChannelLimits, RenderContext
from crisiscast.channels.registry import ChannelsFactory, build_channels
from crisiscast.channels.staff import contacts_on_first_use
from crisiscast.delivery import Delivery, DispatchReport, Receipt
from crisiscast.errors import UserError
from crisiscast.message import CrisisMessage

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore, DispatchRecord
    from crisiscast.config import Secrets, Settings
    from crisiscast.dispatch import Dispatcher, ProgressCallback

__all__ = ["FirstRequest", "Resumed", "TimedChannel", "process_age_s", "resume_unfinished"]

log = structlog.get_logger(__name__)

_IMPORTED_MONOTONIC_S = time.monotonic()


def process_age_s() -> float:
    """Seconds since this process started (Linux ``/proc``; else since this module was imported)."""
    try:
        with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat: starttime, in clock ticks after boot
        started_s = start_ticks / os.sysconf("SC_CLK_TCK")
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started_s)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED_MONOTONIC_S


@dataclass(slots=True)
class FirstRequest:
    """When (``time.monotonic()``) this process made its first provider request, if it did."""

    at_s: float | None = None
    started_s: float = field(default_factory=lambda: time.monotonic() - process_age_s())

    def mark(self) -> None:
        if self.at_s is None:
            self.at_s = time.monotonic()

    @property
    def since_start_s(self) -> float | None:
        """Process start → first provider request, in seconds (None: no request was made)."""
        return None if self.at_s is None else self.at_s - self.started_s


class TimedChannel:
    """A channel that stamps ``FirstRequest`` before its first ``send`` or ``reconcile``.

    Everything else is the wrapped channel's own (name, account, limits, render, lifecycle).
    """

    def __init__(self, inner: Channel, first: FirstRequest) -> None:
        self.inner = inner
        self.first = first
        self.account: str = inner.account
        self.limits: ChannelLimits = inner.limits

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def public(self) -> bool:
        return self.inner.public

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        return self.inner.render(message, ctx)

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        self.first.mark()
        return await self.inner.send(delivery, previous)

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        self.first.mark()
        return await self.inner.reconcile(delivery)

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # anything else a caller may look at
        return getattr(self.inner, name)


@dataclass(slots=True)
class Resumed:
    """One resumed dispatch: its report and the channels that could not be built now."""

    dispatch_id: str
    report: DispatchReport
    skipped: dict[str, str]


async def resume_unfinished(
    settings: Settings,
    secrets: Secrets,
    dispatcher: Dispatcher,
    *,
    dispatch_id: str | None = None,
    first_request: FirstRequest | None = None,
    progress: Callable[[str], ProgressCallback | None] | None = None,
    build: ChannelsFactory = build_channels,
) -> list[Resumed]:
    """Resume ``dispatch_id`` (or every unfinished dispatch) at once; see the module docstring."""
    from crisiscast.dispatch import unfinished_dispatches

    store: AuditStore = dispatcher.store
    if dispatch_id is not None:
        record = await store.dispatch(dispatch_id)
        if record is None:
            raise UserError(
                f"There is no dispatch {dispatch_id} in the audit store; check the id with `audit list`."
            )
        records = [record]
    else:
        records = await unfinished_dispatches(store)
    if not records:
        return []
    log.info("resume_started", dispatches=[r.dispatch_id for r in records])
    return list(
        await asyncio.gather(
            *(
                _resume_one(
                    settings, secrets, dispatcher, r, first=first_request, progress=progress, build=build
                )
                for r in records
            )
        )
    )


async def _resume_one(
    settings: Settings,
    secrets: Secrets,
    dispatcher: Dispatcher,
    record: DispatchRecord,
    *,
    first: FirstRequest | None,
    progress: Callable[[str], ProgressCallback | None] | None,
    build: ChannelsFactory,
) -> Resumed:
    from crisiscast.escalation.steps import with_escalation_channels

    message = CrisisMessage.model_validate(record.message)
    with contacts_on_first_use():  # planned deliveries need no contacts; a cut-short plan reads them
        channels, skipped = build(settings, secrets, with_escalation_channels(message))  # a call step too
    if first is not None:
        channels = [TimedChannel(c, first) for c in channels]
    report = await dispatcher.resume(
        record.dispatch_id, channels, progress=progress(record.dispatch_id) if progress else None
    )
    return Resumed(record.dispatch_id, report, dict(skipped))
