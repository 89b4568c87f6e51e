"""Forecast beside actual in the send report: when the last delivery of each channel was
forecast (recorded with the plan) and when it actually came, from the start of the plan.

``ArrivalClock`` starts just before ``Dispatcher.plan`` and wraps the progress callback: it
keeps, per channel, the time of the last delivery the dispatcher reported delivered. After
the run, ``ArrivalClock.compare(plan.forecast)`` gives the rows
(``crisiscast.dispatch.forecasting.forecast_vs_actual``) that ``print_forecast`` shows and the
JSON report carries as ``forecast_vs_actual``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from crisiscast.dispatch.forecasting import forecast_vs_actual
from crisiscast.jsontypes import JsonObject

if TYPE_CHECKING:
    from rich.console import Console

    from crisiscast.delivery import DeliveryState

__all__ = ["ArrivalClock", "print_forecast"]

Progress = Callable[[str, str, "DeliveryState"], None]


class ArrivalClock:
    """The time of each channel's last delivery, in seconds from the clock's start (the plan)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self.last_s: dict[str, float] = {}

    def wrap(self, progress: Progress) -> Progress:
        """``progress``, also noting when each delivered delivery was reported."""
        from crisiscast.delivery import DeliveryState

        def on_progress(channel: str, key: str, state: DeliveryState) -> None:
            if state is DeliveryState.DELIVERED:
                self.last_s[channel] = self._clock() - self._started
            progress(channel, key, state)

        return on_progress

    def compare(self, forecast: Mapping[str, object]) -> list[JsonObject]:
        """The forecast recorded with the plan beside the actual time to each channel's last delivery."""
        return forecast_vs_actual(forecast, dict(self.last_s))


def print_forecast(console: Console, rows: list[JsonObject]) -> None:
    """ "Forecast vs actual (time to last delivery)", one line per channel."""
    if not rows:
        return
    console.print("Forecast vs actual (time to last delivery):", markup=False, highlight=False)
    for row in rows:
        console.print(f"  {row['sentence']}", markup=False, highlight=False)
