"""The broadcast pipeline the CLI commands share (``send``, ``demo``).

build the channels → open the audit store → plan (plan and approval in one audit write) →
run with live progress → close. A channel that cannot serve is skipped with its reason; when
no channel at all can serve, nothing is planned and a ``ConfigError`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crisiscast.cli.progress import LiveProgress
from crisiscast.errors import ConfigError
from crisiscast.jsontypes import JsonMapping

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.config import Secrets, Settings
    from crisiscast.delivery import DeliveryState, DispatchReport
    from crisiscast.message import CrisisMessage

__all__ = ["dispatch_message", "progress_adapter"]


def progress_adapter(view: LiveProgress) -> Callable[[str, str, DeliveryState], None]:
    """A dispatcher progress callback ``(channel, key, state)`` that feeds ``view``.

    Terminal states settle a delivery (cancelled counts as failed: it was not delivered);
    ``pending`` after ``in_doubt`` (an attempt that will be retried) counts a retry.
    """
    from crisiscast.delivery import DeliveryState

    last: dict[str, DeliveryState] = {}

    def on_progress(channel: str, key: str, state: DeliveryState) -> None:
        previous = last.get(key)
        last[key] = state
        if state is DeliveryState.DELIVERED:
            view.update(channel, delivered=1)
        elif state in (DeliveryState.FAILED, DeliveryState.CANCELLED):
            view.update(channel, failed=1)
        elif state is DeliveryState.SKIPPED:
            view.update(channel, skipped=1)
        elif state is DeliveryState.PENDING and previous is DeliveryState.IN_DOUBT:
            view.update(channel, retries=1)

    return on_progress


async def dispatch_message(
    settings: Settings,
    secrets: Secrets,
    message: CrisisMessage,
    *,
    approval: JsonMapping,
    console: Console,
    phi_override: str | None = None,
    only: Sequence[str] | None = None,
    extra_skipped: Sequence[tuple[str, str]] = (),
    live: bool | None = None,
) -> tuple[DispatchReport, dict[str, str]]:
    """Broadcast ``message`` and return the report and the channels skipped (name → reason)."""
    from crisiscast.audit.open import store_from_config
    from crisiscast.channels.registry import build_channels
    from crisiscast.cli.forecast_view import ArrivalClock
    from crisiscast.dispatch import Dispatcher

    channels, skipped = build_channels(settings, secrets, message, only=only)
    skipped = [*skipped, *extra_skipped]
    if not channels:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped) or "no channel is enabled"
        raise ConfigError(f"Nothing was sent: no channel can take this message ({reasons}).")
    store = store_from_config(settings.store)
    await store.open()
    try:
        dispatcher = Dispatcher.configured(store, settings)
        arrivals = ArrivalClock()
        plan = await dispatcher.plan(  # streamed: sending starts once the first chunk is durable
            message, channels, approval=approval, skipped=skipped, phi_override=phi_override, stream=True
        )
        with LiveProgress(console, live=live) as view:
            for name, count in plan.counts.items():
                view.planned(name, count)
            report = await dispatcher.run(plan, progress=arrivals.wrap(progress_adapter(view)))
        report.forecast_vs_actual = arrivals.compare(plan.forecast)
    finally:
        await store.close()
    return report, dict(skipped)
