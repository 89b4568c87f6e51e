"""Files that hold what the audit holds are created readable by their owner only.

The audit database (and SQLite's ``-wal``/``-shm``/``-journal`` files, which SQLite creates
with the database file's own permissions), the ``--log-file`` and ``audit export --out`` files
hold approvers' names, staff phone numbers and message texts. They are created ``0600``
(owner read and write), or ``0640`` with their group set when ``[store] file_group`` names a
group that may read them (an auditors' or a log shipper's group). The mode is set when the
file is created, never widened later; an existing file keeps the mode it has.

Failure modes: ``UserError`` (one sentence) for a group that does not exist or that this
user may not give files to; ``OSError`` from the file system otherwise.
"""

from __future__ import annotations

import grp
import os
from pathlib import Path
from typing import Any, TextIO, cast

from crisiscast.errors import UserError

__all__ = ["OWNER_ONLY", "WITH_GROUP", "create_private", "open_private", "private_mode"]

OWNER_ONLY = 0o600
WITH_GROUP = 0o640


def private_mode(group: str | None) -> int:
    """``0640`` when a reading group is configured, else ``0600``."""
    return WITH_GROUP if group else OWNER_ONLY


def _gid(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise UserError(
            f"The file group {group!r} does not exist; create it or change [store] file_group."
        ) from None


def _give_group(fd: int, group: str | None, path: Path) -> None:
    if not group:
        return
    try:
        os.fchown(fd, -1, _gid(group))
    except PermissionError:
        raise UserError(
            f"Cannot give {path} to the group {group!r}: this user is not a member of it."
        ) from None


def create_private(path: str | Path, group: str | None = None) -> None:
    """Create ``path`` empty with the private mode (and group) unless it exists already."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private_mode(group))
    except FileExistsError:
        return
    try:
        os.fchmod(fd, private_mode(group))  # the umask may have narrowed it; never widen it beyond
        _give_group(fd, group, path)
    finally:
        os.close(fd)


def open_private(path: str | Path, mode: str, group: str | None = None, **kwargs: Any) -> TextIO:
    """``open(path, mode)`` (text, ``"w"`` or ``"a"``) creating a missing file private."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    existed = path.exists()
    fd = os.open(path, flags, private_mode(group))
    try:
        if not existed:
            os.fchmod(fd, private_mode(group))
            _give_group(fd, group, path)
    except BaseException:
        os.close(fd)
        raise
    return cast(TextIO, os.fdopen(fd, mode, **kwargs))
