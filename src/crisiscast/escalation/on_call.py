"""The next person to notify, from the on-call roster: ``roster_next_up`` (a ``NextUp``).

When a step notifies in a silent person's place (``notify_supervisor``), the person told is
their supervisor (the contacts file's ``supervisor`` column) or whoever the roster schedule
(``[roster] schedule``) has on call at the step's time for that person's department or role
(``[roster.next_up]``, ``crisiscast.roster.config.NextUpRule``): the department's on-call role
first, then the role's, then ``fallback``. ``first`` says which of the two comes first; the
other is asked when the first names nobody. The on-call person must be in the contacts file
(that is where their number and language are); a person is never told about themself.

Without a schedule this is ``supervisor_next_up``, exactly. A schedule that cannot be read
names nobody on call (``crisiscast roster check`` says why), so the supervisors still are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from crisiscast.escalation.who import NextUp, supervisor_next_up
from crisiscast.roster.audiences import on_call_contacts
from crisiscast.roster.source import current_schedule

if TYPE_CHECKING:
    from crisiscast.config import Settings
    from crisiscast.contacts import ContactsLoad

__all__ = ["RosterNextUp", "roster_next_up"]


class RosterNextUp:
    """A ``NextUp`` that also remembers why it chose each person's next person (``why``:
    person's number → ``supervisor`` or ``on call for <role>``), for the step's audit event."""

    def __init__(self, choose: Callable[[str], tuple[str | None, str]]) -> None:
        self._choose = choose
        self.why: dict[str, str] = {}

    def __call__(self, number: str) -> str | None:
        told, why = self._choose(number)
        if told is not None:
            self.why[number] = why
        return told


def roster_next_up(settings: Settings, contacts: ContactsLoad | None, now: datetime) -> NextUp:
    """Who to tell in a person's place at ``now``: the supervisor or the person on call."""
    supervisor = supervisor_next_up(contacts)
    roster = settings.roster
    schedule = current_schedule(roster, settings.base_dir)
    if schedule is None or contacts is None:
        return supervisor
    on_call_by_role, _not_in_contacts = on_call_contacts(schedule, contacts.contacts, now, roster)
    people = {c.phone: c for c in contacts.contacts}
    rule = roster.next_up

    def on_call(number: str) -> tuple[str | None, str]:
        person = people.get(number)
        roles = rule.roles_for(person.attributes) if person is not None else rule.roles_for({})
        for role in roles:
            for contact in on_call_by_role.get(role, []):
                if contact.phone != number:
                    return contact.phone, f"on call for {role}"
        return None, ""

    def choose(number: str) -> tuple[str | None, str]:
        by_supervisor = (supervisor(number), "supervisor")
        if rule.first == "on_call":
            found = on_call(number)
            return found if found[0] is not None else by_supervisor
        return by_supervisor if by_supervisor[0] is not None else on_call(number)

    return RosterNextUp(choose)
