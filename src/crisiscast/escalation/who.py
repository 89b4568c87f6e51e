"""Who a step is for, and who is notified in a person's place.

A step acts for the people the roll-call (``crisiscast.rollcall.view``) shows without an
answer when it runs: ``not_answered`` (reached, silent) and ``unreachable`` (every delivery
failed) for a resent SMS; a call and the supervisor's notice also cover ``opted_out`` (the
carrier now blocks texts to them, so a call is the way to reach them). Those who answered
— even late — and those not sent to yet are never escalated.

``NextUp`` is the seam for "the next person to notify": the contact's ``supervisor``
(``supervisor_next_up``), or the person the roster has on call for their department or role
(``crisiscast.escalation.on_call.roster_next_up``, what the timer uses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from crisiscast.contacts import ContactsLoad
from crisiscast.escalation.policy import Action
from crisiscast.rollcall.view import PersonStatus, RollCall

if TYPE_CHECKING:
    from crisiscast.config import Settings

__all__ = ["STATES_FOR", "NextUp", "no_next_up", "supervisor_next_up", "who_has_not_answered"]

NextUp = Callable[[str], str | None]  # a person's number → the number to notify in their place

STATES_FOR: dict[Action, frozenset[str]] = {
    Action.RESEND_SMS: frozenset({"not_answered", "unreachable"}),
    Action.CALL: frozenset({"not_answered", "unreachable", "opted_out"}),
    Action.NOTIFY_SUPERVISOR: frozenset({"not_answered", "unreachable", "opted_out"}),
}


def who_has_not_answered(rollcall: RollCall, action: Action) -> list[PersonStatus]:
    """The people ``action`` is for, in the roll-call's order."""
    states = STATES_FOR[action]
    return [p for p in rollcall.people if p.state in states]


def supervisor_next_up(contacts: ContactsLoad | None) -> NextUp:
    """The contact's ``supervisor`` column (None: nobody is notified in their place)."""
    supervisors = {c.phone: c.supervisor for c in contacts.contacts} if contacts is not None else {}

    def next_up(number: str) -> str | None:
        return supervisors.get(number)

    return next_up


def no_next_up(number: str) -> str | None:
    """Nobody is notified in anyone's place."""
    return None


def staff_contacts(settings: Settings) -> ContactsLoad | None:
    """The contacts file of the first per-person channel that has one (names, supervisors)."""
    from crisiscast.channels.registry import specs
    from crisiscast.contacts import load_contacts
    from crisiscast.errors import ConfigError

    for spec in specs():
        config = spec.config(settings)
        path = getattr(config, "contacts", None)
        if spec.audience_isolated and isinstance(path, str):
            try:
                region = getattr(config, "default_region", "US")
                return load_contacts(settings.resolve(path), default_region=region)
            except ConfigError:
                return None
    return None
