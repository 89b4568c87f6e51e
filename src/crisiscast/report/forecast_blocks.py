"""The after-action report's "Forecast vs actual" section: per channel, the arrival forecast
recorded with the plan beside the actual time to the last accepted delivery (both from the
plan's record), and the error. A surveyor reads it as "did we know how long it would take?";
a planner, as whether ``[preflight]`` (sender pace, fixed start) needs adjusting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiscast.report.layout import Block
    from crisiscast.report.model import DispatchFacts

__all__ = ["forecast_blocks"]


def _seconds(value: object) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "nothing delivered"


def forecast_blocks(d: DispatchFacts) -> list[Block]:
    """The heading and the table (or one sentence when no forecast was recorded)."""
    from crisiscast.report.layout import Block

    out = [Block("h2", "Forecast vs actual (time to last delivery, from the plan)")]
    if not d.forecast_vs_actual:
        out.append(Block("p", "No arrival forecast was recorded with this dispatch's plan."))
        return out
    rows = tuple(
        (
            str(row["channel"]),
            _seconds(row["forecast_s"]),
            _seconds(row["actual_s"]),
            f"{row['error']:+.0%}" if isinstance(row.get("error"), int | float) else "-",
        )
        for row in d.forecast_vs_actual
    )
    out.append(Block("table", headers=("channel", "forecast", "actual", "error"), rows=rows))
    return out
