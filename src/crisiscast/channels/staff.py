"""What every per-person (staff) channel checks when it is built: the contacts it reaches.

``staff_contacts(settings, name, path, default_region, exercise)`` refuses plainly
(``ChannelUnavailable``) when a drill has no exercise audience with contact groups, or the
contacts file is missing or unreadable; else returns the loaded contacts.
"""

from __future__ import annotations

from crisiscast.channels.base import ChannelUnavailable
from crisiscast.config import Settings
from crisiscast.contacts import ContactsLoad, load_contacts
from crisiscast.errors import ConfigError

__all__ = ["staff_contacts"]


def staff_contacts(
    settings: Settings, name: str, path: str, default_region: str, *, exercise: bool
) -> ContactsLoad:
    """The contacts channel ``name`` reads from ``path`` (see the module docstring)."""
    if exercise and not any(settings.audiences.get(a) for a in settings.exercise_audiences):
        raise ChannelUnavailable(
            "no exercise audience with contact groups is configured (exercise_audiences)"
        )
    file = settings.resolve(path)
    if not file.is_file():
        raise ChannelUnavailable(f"the contacts file {file} does not exist; set channels.{name}.contacts")
    try:
        return load_contacts(file, default_region=default_region)
    except ConfigError as exc:
        raise ChannelUnavailable(str(exc)) from None
