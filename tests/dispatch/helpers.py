"""In-memory test channels for dispatcher tests: scripted outcomes per target, a call log.

``ScriptChannel`` renders one delivery per target (or a chained thread of ``parts`` parts
for one target) and answers each ``send`` with the next scripted outcome for that target:
``"ok"`` (a receipt), an exception instance to raise, or a callable returning either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from crisiscast.channels.base import BaseChannel, ChannelLimits, RenderContext
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import CannotReconcile
from crisiscast.message import CrisisMessage, Severity, Status

Outcome = Any  # "ok" | BaseException | Callable[[Delivery], Any]


@dataclass
class Call:
    key: str
    target: str
    part: int
    previous: str | None
    at_s: float
    ambiguous_resend: bool = False


@dataclass
class ScriptChannel(BaseChannel):
    """A channel whose provider answers from a script. Never touches the network."""

    channel_name: str = "test"
    targets: Sequence[str] = ("a",)
    script: dict[str, list[Outcome]] = field(default_factory=dict)
    parts: int = 1
    limits: ChannelLimits = field(default_factory=lambda: ChannelLimits(max_concurrency=8, max_attempts=5))
    account: str = ""
    reconcile_script: dict[str, list[Outcome]] = field(default_factory=dict)
    on_send: Callable[[Delivery], Any] | None = None
    calls: list[Call] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    delivered: dict[str, str] = field(default_factory=dict)  # key -> provider id (what the "provider" has)
    started: int = 0
    closed: int = 0
    render_error: BaseException | None = None
    public: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.account:
            self.account = f"{self.channel_name}:acct"

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.channel_name

    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        if self.render_error is not None:
            raise self.render_error
        out: list[Delivery] = []
        for target in self.targets:
            if ctx.only_targets is not None and target not in ctx.only_targets.get(
                self.channel_name, frozenset()
            ):
                continue
            previous: str | None = None
            for part in range(self.parts):
                d = Delivery(
                    ctx.dispatch_id,
                    self.channel_name,
                    target,
                    part,
                    f"{message.headline} #{part}",
                    after=previous,
                )
                out.append(d)
                previous = d.key
        return out

    async def start(self) -> None:
        self.started += 1

    async def aclose(self) -> None:
        self.closed += 1

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        self.calls.append(
            Call(
                delivery.key,
                delivery.target,
                delivery.part,
                previous.provider_id if previous else None,
                asyncio.get_running_loop().time(),
            )
        )
        if self.on_send is not None:
            result = self.on_send(delivery)
            if asyncio.iscoroutine(result):
                await result
        outcome = _next(self.script, delivery.target)
        return self._answer(delivery, outcome)

    def _answer(self, delivery: Delivery, outcome: Outcome) -> Receipt:
        if callable(outcome) and not isinstance(outcome, BaseException):
            outcome = outcome(delivery)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "accepted-then-ambiguous":  # the provider got it, the answer was lost
            from crisiscast.errors import Ambiguous

            self.delivered[delivery.key] = f"p-{len(self.calls)}"
            raise Ambiguous("timed out after sending", code="timeout")
        provider_id = f"p-{len(self.calls)}"
        self.delivered[delivery.key] = provider_id
        return Receipt(provider_id=provider_id)

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        self.reconciled.append(delivery.key)
        outcome = _next(self.reconcile_script, delivery.target, default="ask")
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "cannot":
            raise CannotReconcile("the provider cannot be asked")
        found = self.delivered.get(delivery.key)
        return Receipt(provider_id=found) if found else None

    def sends(self, target: str | None = None) -> int:
        return sum(1 for c in self.calls if target is None or c.target == target)


def _next(script: dict[str, list[Outcome]], target: str, default: Outcome = "ok") -> Outcome:
    queue = script.get(target)
    if not queue:
        return default
    return queue.pop(0) if len(queue) > 1 else queue[0]


def message(
    *,
    status: Status = Status.ACTUAL,
    severity: Severity = Severity.SEVERE,
    expires_in_s: float | None = None,
    sent: datetime | None = None,
) -> CrisisMessage:
    sent = sent or datetime.now(UTC)
    expires = sent + timedelta(seconds=expires_in_s) if expires_in_s is not None else None
    return CrisisMessage(
        status=status, severity=severity, headline="Fire in building C", sent=sent, expires=expires
    )


APPROVAL = {"approver": "alice", "method": "cli-confirm"}
