"""What every per-person (staff) channel checks when it is built: the contacts it reaches.

``staff_contacts(settings, name, path, default_region, exercise)`` refuses plainly
(``ChannelUnavailable``) when a drill has no exercise audience with contact groups, or the
contacts file is missing or unreadable; else returns the loaded contacts.

Within ``contacts_on_first_use()`` it checks the same but does not read the file: it returns
None and the channel reads the file the first time it needs it (to render). A resume builds its
channels so: the deliveries it sends are already planned, so it reads no contacts unless it has
to finish a plan a crash cut short (at 100,000 staff the parsed file is about 86 MB).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from crisiscast.channels.base import ChannelUnavailable
from crisiscast.config import Settings
from crisiscast.contacts import ContactsLoad, load_contacts
from crisiscast.errors import ConfigError

__all__ = ["contacts_on_first_use", "staff_contacts"]

_ON_FIRST_USE: ContextVar[bool] = ContextVar("crisiscast_contacts_on_first_use", default=False)


@contextmanager
def contacts_on_first_use() -> Iterator[None]:
    """Channels built within read their contacts file when first needed, not when built."""
    token = _ON_FIRST_USE.set(True)
    try:
        yield
    finally:
        _ON_FIRST_USE.reset(token)


def staff_contacts(
    settings: Settings, name: str, path: str, default_region: str, *, exercise: bool
) -> ContactsLoad | None:
    """The contacts channel ``name`` reads from ``path``, or None: read on first use (see above)."""
    if exercise and not any(settings.audiences.get(a) for a in settings.exercise_audiences):
        raise ChannelUnavailable(
            "no exercise audience with contact groups is configured (exercise_audiences)"
        )
    file = settings.resolve(path)
    if not file.is_file():
        raise ChannelUnavailable(f"the contacts file {file} does not exist; set channels.{name}.contacts")
    if _ON_FIRST_USE.get():
        return None
    try:
        return load_contacts(file, default_region=default_region)
    except ConfigError as exc:
        raise ChannelUnavailable(str(exc)) from None
