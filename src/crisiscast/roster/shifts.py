"""Whether a named shift is on at a given moment, in the roster's time zone."""

from __future__ import annotations

from datetime import datetime

from crisiscast.roster.config import RosterConfig, ShiftHours

__all__ = ["on_shift", "shift_is_on"]


def shift_is_on(hours: ShiftHours, now: datetime, config: RosterConfig) -> bool:
    """True when ``now`` (aware) falls in ``hours`` in the roster's time zone (start included)."""
    local = now.astimezone(config.zone).time().replace(tzinfo=None)
    start, end = hours.start_time, hours.end_time
    if start < end:
        return start <= local < end
    return local >= start or local < end  # runs past midnight


def on_shift(shift: str, now: datetime, config: RosterConfig) -> bool:
    """True when the contact's ``shift`` names a configured shift that is on at ``now``."""
    hours = config.shifts.get(shift.strip().casefold())
    return hours is not None and shift_is_on(hours, now, config)
