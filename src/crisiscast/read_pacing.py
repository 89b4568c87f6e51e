"""How often a live view reads again what it shows: at most about a tenth of the time reading.

A view that follows a dispatch (the progress long-poll, the console's board, ``status --watch``,
``rollcall --watch``) reads the store again after its own interval, or after ``COST_FACTOR``
times what the last read cost, whichever is longer. A read that costs seconds (a roll-call
rebuilt from the events at 100,000 recipients) is then made less often instead of keeping a
core busy, while small dispatches keep their live refresh.
"""

from __future__ import annotations

__all__ = ["COST_FACTOR", "next_read_in_s"]

COST_FACTOR = 9.0  # wait ≥ 9 × the read's cost: reading is ≤ 1/10 of the time


def next_read_in_s(interval_s: float, cost_s: float) -> float:
    """Seconds until the next read: ``interval_s``, or ``COST_FACTOR × cost_s`` when longer."""
    return max(interval_s, COST_FACTOR * cost_s)
