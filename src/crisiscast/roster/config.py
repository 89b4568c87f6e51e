"""The ``[roster]`` section: where the on-call schedule is, the shifts, the on-duty audiences.

::

    [roster]
    schedule = "config/on-call.ics"   # or .csv, or an https:// URL; "" for none
    timezone = "America/New_York"     # shift hours and naive CSV times are read in it

    [roster.shifts]
    day = { start = "07:00", end = "19:00" }
    night = { start = "19:00", end = "07:00" }  # an end before the start runs past midnight

    [roster.audiences.ed-nurses-on-duty]
    role = "nurse"
    department = "ED"
    on_duty = true

    [roster.audiences.on-call-security]
    on_call = "security"              # on call for this role in the schedule, now

    [roster.audiences.building-b]
    building = "B"

    [roster.next_up]                  # who an escalation's notify_supervisor step tells
    first = "supervisor"              # or "on_call": the person on call before the supervisor
    department = { ED = "ed-charge" } # on call for this role, for people of this department
    fallback = "house-supervisor"     # for anyone else

Attributes (``role``, ``department``, ``building``, ``floor``, ``shift``) are compared with
the contacts file's columns case-insensitively; every one given must match. ``groups`` further
restricts to people in any of those contact groups. ``on_duty`` keeps those whose shift is on
now or who are on call now for any role. ``next_up`` is ``NextUpRule`` (used by
``crisiscast.escalation.on_call``).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AudienceRule", "NextUpRule", "RosterConfig", "ShiftHours"]

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(value: str) -> time:
    match = _CLOCK.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a time of day like 07:00")
    return time(int(match[1]), int(match[2]))


class ShiftHours(BaseModel):
    """One shift's hours, ``HH:MM`` local time; an ``end`` before ``start`` runs past midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _valid(cls, value: str) -> str:
        _clock(value)
        return value.strip()

    @model_validator(mode="after")
    def _not_empty(self) -> ShiftHours:
        if self.start_time == self.end_time:
            raise ValueError("a shift's start and end are the same time; give different hours")
        return self

    @property
    def start_time(self) -> time:
        return _clock(self.start)

    @property
    def end_time(self) -> time:
        return _clock(self.end)


class AudienceRule(BaseModel):
    """Who a roster audience is: attribute values, contact groups, on duty, on call (see module)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str | None = None
    department: str | None = None
    building: str | None = None
    floor: str | None = None
    shift: str | None = None
    groups: tuple[str, ...] = ()
    on_duty: bool = False
    on_call: str | None = None  # a role in the schedule

    @model_validator(mode="after")
    def _selects_someone(self) -> AudienceRule:
        if not (self.attributes() or self.groups or self.on_duty or self.on_call):
            raise ValueError("a roster audience needs at least one of role, department, building, "
                             "floor, shift, groups, on_duty or on_call")
        return self

    def attributes(self) -> dict[str, str]:
        """The attributes this rule requires, lower-case."""
        values = {
            "role": self.role, "department": self.department, "building": self.building,
            "floor": self.floor, "shift": self.shift,
        }
        return {k: v.strip().casefold() for k, v in values.items() if v is not None and v.strip()}


class NextUpRule(BaseModel):
    """``[roster.next_up]``: who an escalation's ``notify_supervisor`` tells for a silent person.

    ``first``: ``supervisor`` (the contact's supervisor column; the person on call when it is
    empty) or ``on_call`` (the person on call first; the supervisor when nobody is on call).
    The on-call roles tried for a person, in order: ``department[their department]`` (else
    their department itself), ``role[their role]`` (else their role itself), then ``fallback``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: Literal["supervisor", "on_call"] = "supervisor"
    department: dict[str, str] = Field(default_factory=dict)  # the contact's department → on-call role
    role: dict[str, str] = Field(default_factory=dict)  # the contact's role → on-call role
    fallback: str = ""  # the on-call role for anyone else ("" for none)

    @field_validator("department", "role")
    @classmethod
    def _lower_map(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().casefold(): v.strip().casefold() for k, v in value.items()}

    @field_validator("fallback")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().casefold()

    def roles_for(self, attributes: dict[str, str]) -> list[str]:
        """The on-call roles to try for a person with these contact ``attributes``, in order."""
        department = attributes.get("department", "").strip().casefold()
        role = attributes.get("role", "").strip().casefold()
        tried = [
            self.department.get(department, department) if department else "",
            self.role.get(role, role) if role else "",
            self.fallback,
        ]
        return [r for r in dict.fromkeys(tried) if r]


def _default_shifts() -> dict[str, ShiftHours]:
    return {"day": ShiftHours(start="07:00", end="19:00"), "night": ShiftHours(start="19:00", end="07:00")}


class RosterConfig(BaseModel):
    """``[roster]`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str = ""  # a .ics or .csv file, or an http(s):// URL; "" for no schedule
    timezone: str = "UTC"
    fetch_timeout_s: float = Field(default=10.0, gt=0)
    refresh_s: float = Field(default=300.0, gt=0)  # a URL schedule is fetched again after this
    default_region: str = "US"  # for phone numbers in the schedule written without +country
    shifts: dict[str, ShiftHours] = Field(default_factory=_default_shifts)
    audiences: dict[str, AudienceRule] = Field(default_factory=dict)
    next_up: NextUpRule = Field(default_factory=NextUpRule)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name like America/New_York or UTC") from None
        return value

    @field_validator("shifts")
    @classmethod
    def _lower_shifts(cls, value: dict[str, ShiftHours]) -> dict[str, ShiftHours]:
        return {k.strip().casefold(): v for k, v in value.items()}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
