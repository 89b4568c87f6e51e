"""The parsed contacts file kept on disk, so a new process does not validate every number again.

Validating a phone number with ``phonenumbers`` costs about 50-130 µs a row, and importing it
another 35-70 ms: a ``send`` to 1,000 staff paid 0.15-0.25 s for it before the first text left.
``load_contacts`` asks this module first when a cache directory is set (``[store]
contacts_cache_dir``, set by the command line when it loads the configuration):

- the key is the SHA-256 of the file's **bytes**, the default region, the ``phonenumbers``
  version (its metadata decides what is valid) and this format's version: any change to the
  file (or an upgrade) is a miss, and the file is parsed as before;
- the entry is one JSON file named by the key, created ``0600`` in a ``0700`` directory, written
  whole to a temporary name and renamed, and it repeats the key inside;
- an entry is used only when it reads back whole and every field has its type (else the file is
  parsed as before and the entry replaced): a damaged or foreign entry can cost time, never a
  recipient. An entry that group or others may write is not trusted either;
- at most ``KEEP`` entries are kept (the oldest are removed when one is written).

Nothing here raises: a directory that cannot be made or written only means no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from crisiscast.contacts import Contact, ContactProblem, ContactsLoad
from crisiscast.gc_pause import gc_paused
from crisiscast.interning import Interner

__all__ = ["KEEP", "cache_key", "read_cached", "write_cached"]

FORMAT = 1
KEEP = 8
_SUFFIX = ".contacts.json"


def _phonenumbers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("phonenumbers")
    except PackageNotFoundError:  # pragma: no cover - a broken installation
        return "unknown"


def cache_key(content: bytes, default_region: str) -> str:
    """The entry's name for a file's bytes read in ``default_region``."""
    digest = hashlib.sha256(content).hexdigest()
    meta = f"{FORMAT}\0{default_region}\0{_phonenumbers_version()}\0{digest}"
    return hashlib.sha256(meta.encode()).hexdigest()


def read_cached(directory: Path, key: str) -> ContactsLoad | None:
    """The cached parse for ``key``, or None (missing, unreadable, untrusted or malformed)."""
    path = directory / f"{key}{_SUFFIX}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read()
        with gc_paused():  # two million small acyclic objects at 100,000 rows
            return _decode(json.loads(raw), key)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def write_cached(directory: Path, key: str, load: ContactsLoad) -> None:
    """Keep ``load`` under ``key`` (owner-only); any failure only means no cache."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = json.dumps(_encode(load, key), ensure_ascii=False, separators=(",", ":")).encode()
        tmp = directory / f".{key}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, directory / f"{key}{_SUFFIX}")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)


# -- the JSON form ---------------------------------------------------------------------------


def _contact_row(c: Contact) -> list[Any]:
    return [
        c.name,
        c.phone,
        sorted(c.groups),
        c.language,
        c.line,
        c.email,
        c.voice_number,
        list(c.paths),
        c.role,
        c.department,
        c.building,
        c.floor,
        c.shift,
        c.supervisor,
    ]


def _encode(load: ContactsLoad, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "contacts": [_contact_row(c) for c in load.contacts],
        "problems": [[p.line, p.reason] for p in load.problems],
        "notes": [[p.line, p.reason] for p in load.notes],
        "repeats": [_contact_row(c) for c in load.repeats],
    }


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("text expected")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _line(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError("line number expected")
    return value


def _texts(value: object) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("list expected")
    return [_text(v) for v in value]


def _contact(row: object, share: Interner) -> Contact:
    if not isinstance(row, list) or len(row) != 14:
        raise TypeError("contact row expected")
    name, phone, groups, language, line, email, voice, paths, role, dept, building, floor, shift, sup = row
    return Contact(
        name=_text(name),
        phone=_text(phone),
        groups=share(frozenset(_texts(groups))),
        language=share(_text(language)),
        line=_line(line),
        email=_optional_text(email),
        voice_number=_optional_text(voice),
        paths=share(tuple(_texts(paths))),
        role=share(_text(role)),
        department=share(_text(dept)),
        building=share(_text(building)),
        floor=share(_text(floor)),
        shift=share(_text(shift)),
        supervisor=_optional_text(sup),
    )


def _problem(row: object) -> ContactProblem:
    if not isinstance(row, list) or len(row) != 2:
        raise TypeError("problem row expected")
    return ContactProblem(_line(row[0]), _text(row[1]))


def _rows(data: dict[str, Any], name: str) -> list[object]:
    rows = data[name]
    if not isinstance(rows, list):
        raise TypeError("list expected")
    return rows


def _decode(data: object, key: str) -> ContactsLoad | None:
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    share = Interner()  # the values rows repeat (groups, language, paths, columns) kept once
    return ContactsLoad(
        contacts=tuple(_contact(r, share) for r in _rows(data, "contacts")),
        problems=tuple(_problem(r) for r in _rows(data, "problems")),
        notes=tuple(_problem(r) for r in _rows(data, "notes")),
        repeats=tuple(_contact(r, share) for r in _rows(data, "repeats")),
    )
