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

from datetime import datetime
from typing import TYPE_CHECKING

from crisiscast.escalation.who import NextUp, supervisor_next_up
from crisiscast.roster.audiences import on_call_contacts
from crisiscast.roster.source import current_schedule

if TYPE_CHECKING:
    from crisiscast.config import Settings
    from crisiscast.contacts import ContactsLoad

__all__ = ["roster_next_up"]


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

    def on_call(number: str) -> str | None:
        person = people.get(number)
        roles = rule.roles_for(person.attributes) if person is not None else rule.roles_for({})
        for role in roles:
            for contact in on_call_by_role.get(role, []):
                if contact.phone != number:
                    return contact.phone
        return None

    def next_up(number: str) -> str | None:
        if rule.first == "on_call":
            return on_call(number) or supervisor(number)
        return supervisor(number) or on_call(number)

    return next_up
