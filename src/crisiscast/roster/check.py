"""``crisiscast roster check``'s findings: who is on call now, what each audience reaches, and
what needs fixing in the schedule and the roster configuration.

Problems: a schedule that cannot be read, fetched or used (rows and events, with the reason); a
person the schedule puts on call who is not in the contacts file; a contact whose ``shift`` is
not one of ``[roster.shifts]`` (never on duty); a roster audience that resolves to nobody now;
an ``on_call`` role no schedule entry has, and a role ``[roster.next_up]`` names that none has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from crisiscast.contacts import Contact
from crisiscast.roster.audiences import on_call_contacts, rule_members
from crisiscast.roster.source import current_schedule

if TYPE_CHECKING:
    from crisiscast.config import Settings

__all__ = ["RosterReport", "check_roster"]


@dataclass(slots=True)
class RosterReport:
    at: datetime
    schedule: str  # its source, "" when none is configured
    on_call: dict[str, list[str]] = field(default_factory=dict)  # role -> names (or numbers)
    audiences: dict[str, int] = field(default_factory=dict)  # roster audience -> people now
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "schedule": self.schedule,
            "on_call": self.on_call,
            "audiences": self.audiences,
            "problems": self.problems,
        }


def _label(contact: Contact) -> str:
    return contact.name or contact.phone


def check_roster(settings: Settings, contacts: tuple[Contact, ...], now: datetime) -> RosterReport:
    """The roster as it stands at ``now`` (see the module docstring)."""
    config = settings.roster
    schedule = current_schedule(config, settings.base_dir)
    report = RosterReport(now, schedule.source if schedule is not None else "")
    if schedule is not None:
        report.problems.extend(schedule.problems)
    on_call, missing = on_call_contacts(schedule, contacts, now, config)
    report.problems.extend(missing)
    report.on_call = {role: [_label(c) for c in people] for role, people in on_call.items()}
    unknown_shifts: dict[str, list[str]] = {}
    for contact in contacts:
        shift = contact.shift.strip().casefold()
        if shift and shift not in config.shifts:
            unknown_shifts.setdefault(contact.shift, []).append(f"line {contact.line}")
    for shift, lines in unknown_shifts.items():
        report.problems.append(
            f"the shift {shift!r} ({', '.join(lines[:5])}{' …' if len(lines) > 5 else ''}) is not in "
            f"[roster.shifts] ({', '.join(config.shifts) or 'none'}), so those people are never on duty"
        )
    roles = schedule.roles() if schedule is not None else set()
    for name, rule in config.audiences.items():
        report.audiences[name] = len(rule_members(rule, contacts, now, on_call, config))
        if rule.on_call and rule.on_call.casefold() not in roles:
            report.problems.append(
                f"the audience {name!r} is for whoever is on call for {rule.on_call!r}, "
                "but the schedule has no such role"
            )
        if report.audiences[name] == 0:
            report.problems.append(
                f"the audience {name!r} resolves to nobody right now; a send to it is refused"
            )
    named = [*config.next_up.department.values(), *config.next_up.role.values(), config.next_up.fallback]
    for role in dict.fromkeys(r for r in named if r and r not in roles):
        report.problems.append(
            f"[roster.next_up] names the on-call role {role!r}, but the schedule has no such role, "
            "so nobody on call is told in a silent person's place for it"
        )
    return report
