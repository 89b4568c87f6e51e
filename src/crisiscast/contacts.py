"""The SMS contacts list: a CSV of staff with their phone number, groups and language.

File format (UTF-8, a header row, columns in any order, extra columns ignored)::

    name,phone,groups,language
    Ana Ruiz,+1 617 555 0101,staff;icu,es
    Ben Okafor,(617) 555-0102,staff;drill-team,en

- ``phone`` is validated and normalised to E.164 with ``phonenumbers``; numbers written
  without a country code are read in ``default_region`` (``sms.default_region``).
- ``groups`` is a ``;``-separated list; group names are compared case-insensitively.
- ``language`` is a language tag (``en``, ``es``, ``pt-BR``); empty means ``en``.
- Blank lines and lines starting with ``#`` are ignored.

Optional columns for the alternate means of reaching a person (files without them keep
working)::

    name,phone,groups,language,email,voice,paths
    Ana Ruiz,+1 617 555 0101,staff;icu,es,ana.ruiz@example.org,+1 617 555 0199,sms;email;voice

- ``email`` is checked and normalised with ``email-validator`` (syntax only, no DNS).
- ``voice`` is the number to call when it differs from ``phone`` (E.164 like ``phone``);
  ``Contact.voice`` falls back to ``phone``.
- ``paths`` is the person's preferred order of paths, ``;``-separated (``sms;voice;email``);
  empty means SMS, then a call when a ``voice`` number is given, then e-mail when an address
  is given. A path the person has no address for is left out.

Optional columns that describe the person, for on-duty audiences and escalation (free text,
compared case-insensitively; files without them keep working)::

    name,phone,groups,role,department,building,floor,shift,supervisor
    Ana Ruiz,+16175550101,staff,nurse,ED,B,3,day,+16175550150

- ``role``, ``department``, ``building``, ``floor`` and ``shift`` say who the person is and
  where they work (``Contact.attributes`` gives them by name);
- ``supervisor`` is the phone number (any form ``phone`` accepts) of the person to notify when
  this one does not answer; a bad number is noted and ignored.

A bad ``email``, ``voice`` or ``paths`` value does not skip the row (the person can still be
reached by SMS): the value is ignored and reported in ``ContactsLoad.notes``.

A bad row never stops a broadcast: it is skipped and reported as a ``ContactProblem`` with
its line number and a plain reason (``load_contacts`` returns both). Bad rows include a number
with letters in it (``+1 617 253 1OOO``: never read as keypad digits), a premium-rate,
shared-cost, emergency or short-code number (a service, not a person), and a row with a cell
longer than 500 characters. A row repeating an earlier row's number is reported too; its groups
are added to the first row, so nobody drops out of an audience. Only a file that cannot
be read at all, or lacks the ``phone`` or ``groups`` column, raises ``ConfigError``.

Recipients are de-duplicated by phone number (one delivery per number): the first row in the
file wins (its name and language are used) and carries the groups of every row with its number.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.errors import ConfigError
from crisiscast.interning import Interner

if TYPE_CHECKING:
    import phonenumbers

__all__ = [
    "ATTRIBUTES",
    "PATHS",
    "Contact",
    "ContactProblem",
    "ContactsLoad",
    "load_contacts",
    "normalise_email",
    "normalise_phone",
    "parse_contacts",
    "select_recipients",
    "set_cache_dir",
]

PATHS = ("sms", "voice", "email")
"""The paths a contact row may list, in the default order of preference."""

ATTRIBUTES = ("role", "department", "building", "floor", "shift")
"""The descriptive columns a contact row may carry (audiences select on them)."""

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_REQUIRED_COLUMNS = ("phone", "groups")
MAX_FIELD_CHARS = 500  # a longer cell is a pasting accident: that row is skipped
_OVERSIZED = f"a cell is longer than {MAX_FIELD_CHARS} characters, so the row is skipped; check the file"
_PARSE_REASONS = {  # by NumberParseException's error type (``phonenumbers`` is imported on first use)
    "INVALID_COUNTRY_CODE": "has no valid country code (write it as +<country code>…)",
    "NOT_A_NUMBER": "is not a phone number",
    "TOO_SHORT_AFTER_IDD": "is too short",
    "TOO_SHORT_NSN": "is too short",
    "TOO_LONG": "is too long",
}


@dataclass(frozen=True, slots=True)
class Contact:
    """One reachable person: ``phone`` is E.164, ``groups`` lower-case, ``line`` the CSV line."""

    name: str
    phone: str
    groups: frozenset[str]
    language: str
    line: int
    email: str | None = None  # normalised address, None when the row gives none (or a bad one)
    voice_number: str | None = None  # E.164, only when it differs from ``phone``
    paths: tuple[str, ...] = ("sms",)  # preferred order, only paths the person has an address for
    role: str = ""
    department: str = ""
    building: str = ""
    floor: str = ""
    shift: str = ""
    supervisor: str | None = None  # E.164 of the person to notify when this one does not answer

    @property
    def attributes(self) -> dict[str, str]:
        """The descriptive columns by name (``ATTRIBUTES``), as written in the file."""
        return {name: getattr(self, name) for name in ATTRIBUTES}

    @property
    def voice(self) -> str:
        """The number to call (E.164): the ``voice`` column, else ``phone``."""
        return self.voice_number or self.phone


@dataclass(frozen=True, slots=True)
class ContactProblem:
    """A row that was skipped, and why (``str()`` reads "line 7: …")."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ContactsLoad:
    """The usable contacts, in file order, and the rows that were skipped.

    ``notes`` are rows that were kept with one value ignored (a bad e-mail address, voice
    number or path). ``repeats`` are rows not used because their number is on an earlier row
    (their groups were added to it), kept for ``crisiscast contacts check``.
    """

    contacts: tuple[Contact, ...]
    problems: tuple[ContactProblem, ...]
    notes: tuple[ContactProblem, ...] = ()
    repeats: tuple[Contact, ...] = ()


def normalise_phone(raw: str, default_region: str) -> str:
    """``raw`` as E.164 (``+16175550101``); raises ``ValueError`` with a plain reason."""
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    text = raw.strip()
    if not text:
        raise ValueError("the phone number is empty")
    letters = sorted({c for c in text if c.isalpha()})[:3]
    # phonenumbers would read letters as keypad digits: a letter O typed for a zero becomes a 6
    if letters and any(c.isdigit() for c in text):
        raise ValueError(
            f"the phone number {text!r} has letters in it ({', '.join(letters)}); write it in digits only"
        )
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        kinds = {getattr(NumberParseException, kind): words for kind, words in _PARSE_REASONS.items()}
        reason = kinds.get(exc.error_type, "cannot be read")
        raise ValueError(f"the phone number {text!r} {reason}") from None
    special = _service_number(number, text, default_region)
    if special:
        raise ValueError(f"the phone number {text!r} is {special}, not a person's phone")
    # Checking the default region first is much cheaper for shared country codes (+1: 25 regions).
    if not (
        phonenumbers.is_valid_number_for_region(number, default_region)
        or phonenumbers.is_valid_number(number)
    ):
        raise ValueError(f"the phone number {text!r} is not a valid number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _service_number(number: phonenumbers.PhoneNumber, text: str, region: str) -> str:
    """What kind of service number ``number`` is ("" for an ordinary one)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType, shortnumberinfo

    if shortnumberinfo.is_emergency_number(text, region):
        return "an emergency number"
    if shortnumberinfo.is_valid_short_number(number):
        return "a short code (a service)"
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.PREMIUM_RATE:
        return "a premium-rate number (texting it costs money)"
    if kind == PhoneNumberType.SHARED_COST:
        return "a shared-cost service number"
    return ""


def normalise_email(raw: str) -> str:
    """``raw`` as a normalised address (domain in lower case); ``ValueError`` with a plain reason."""
    from email_validator import EmailNotValidError, validate_email

    text = raw.strip()
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"the e-mail address {text!r} is not valid: {str(exc).rstrip('.')}") from None


def parse_contacts(
    lines: Iterable[str], *, default_region: str = "US", source: str = "contacts"
) -> ContactsLoad:
    """Parse CSV text lines (the header first) into contacts and problems.

    Raises ``ConfigError`` only when the header lacks a required column.
    """
    reader = csv.reader(lines)
    header: list[str] | None = None
    for row in reader:
        if _blank_or_comment(row):
            continue
        header = [cell.strip().lower() for cell in row]
        break
    if header is None:
        return ContactsLoad((), ())
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ConfigError(
            f"The contacts file {source} has no {' or '.join(repr(c) for c in missing)} column; "
            "its first row must name the columns: name,phone,groups,language."
        )
    i_phone, i_groups = header.index("phone"), header.index("groups")
    i_name = header.index("name") if "name" in header else None
    i_lang = header.index("language") if "language" in header else None
    i_paths = [header.index(c) if c in header else None for c in ("email", "voice", "paths")]
    i_attributes = {c: header.index(c) for c in ATTRIBUTES if c in header}
    i_supervisor = header.index("supervisor") if "supervisor" in header else None
    notes: list[ContactProblem] = []
    repeats: list[Contact] = []
    share = Interner()  # the values rows repeat (groups, language, paths, columns) kept once

    contacts: list[Contact] = []
    problems: list[ContactProblem] = []
    normalised: dict[tuple[str, str], str] = {}
    first_row: dict[str, int] = {}  # E.164 number -> index in contacts of its first row
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a cell longer than the csv module reads at all
            problems.append(ContactProblem(reader.line_num, _OVERSIZED))
            continue
        line = reader.line_num
        if _blank_or_comment(row):
            continue
        if any(len(cell) > MAX_FIELD_CHARS for cell in row):
            problems.append(ContactProblem(line, _OVERSIZED))
            continue
        name = _cell(row, i_name)
        raw_phone = _cell(row, i_phone)
        cache_key = (raw_phone, default_region)
        phone = normalised.get(cache_key)
        if phone is None:
            try:
                phone = normalise_phone(raw_phone, default_region)
            except ValueError as exc:
                problems.append(ContactProblem(line, _who(name, str(exc))))
                continue
            normalised[cache_key] = phone
        groups = share(frozenset(g.strip().lower() for g in _cell(row, i_groups).split(";") if g.strip()))
        if not groups:
            problems.append(
                ContactProblem(line, _who(name, "no groups are listed, so no audience reaches it"))
            )
            continue
        language = share((_cell(row, i_lang) or "en").lower().replace("_", "-"))
        if not _LANGUAGE.match(language):
            problems.append(
                ContactProblem(
                    line, _who(name, f"the language {language!r} is not a language code like en or es")
                )
            )
            continue

        def note(reason: str, line: int = line, name: str = name) -> None:
            notes.append(ContactProblem(line, _who(name, reason)))

        email, voice, paths = _paths(row, i_paths, phone=phone, default_region=default_region, note=note)
        supervisor = _supervisor(
            _cell(row, i_supervisor), phone=phone, default_region=default_region, note=note
        )
        described = {name: share(_cell(row, i_attributes.get(name))) for name in ATTRIBUTES}
        contact = Contact(
            name=name,
            phone=phone,
            groups=groups,
            language=language,
            line=line,
            email=email,
            voice_number=voice,
            paths=share(paths),
            supervisor=supervisor,
            role=described["role"],
            department=described["department"],
            building=described["building"],
            floor=described["floor"],
            shift=described["shift"],
        )
        earlier = first_row.get(phone)
        if earlier is not None:
            problems.append(ContactProblem(line, _duplicate(contacts, earlier, name, phone, groups)))
            contacts[earlier] = replace(contacts[earlier], groups=share(contacts[earlier].groups | groups))
            repeats.append(contact)
            continue
        first_row[phone] = len(contacts)
        contacts.append(contact)
    return ContactsLoad(tuple(contacts), tuple(problems), tuple(notes), tuple(repeats))


def _paths(
    row: list[str], columns: list[int | None], *, phone: str, default_region: str, note: Callable[[str], None]
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """The row's e-mail, voice number and paths; a bad value is noted and ignored."""
    raw_email, raw_voice, raw_paths = (_cell(row, i) for i in columns)
    email = voice = None
    if raw_email:
        try:
            email = normalise_email(raw_email)
        except ValueError as exc:
            note(f"{exc}; e-mail is left out")
    if raw_voice:
        try:
            voice = normalise_phone(raw_voice, default_region)
        except ValueError as exc:
            note(f"voice: {exc}; calls go to the phone number")
        voice = None if voice == phone else voice
    has = {"sms": True, "voice": voice is not None, "email": email is not None}
    if not raw_paths:
        return email, voice, tuple(p for p in PATHS if has[p])
    has["voice"] = True  # listed: a call goes to the phone number when no voice number is given
    listed = list(dict.fromkeys(p.strip().lower() for p in raw_paths.split(";") if p.strip()))
    for path in listed:
        if path not in has:
            note(f"the path {path!r} is not one of {', '.join(PATHS)}")
        elif not has[path]:
            note(f"the path {path!r} is listed but the row gives no usable address for it")
    chosen = tuple(p for p in listed if has.get(p))
    return email, voice, chosen or ("sms",)


def _supervisor(raw: str, *, phone: str, default_region: str, note: Callable[[str], None]) -> str | None:
    """The supervisor column as E.164; a bad number (or the person's own) is noted and ignored."""
    if not raw:
        return None
    try:
        number = normalise_phone(raw, default_region)
    except ValueError as exc:
        note(f"supervisor: {exc}; nobody is notified in their place")
        return None
    if number == phone:
        note("supervisor: the number is the person's own; nobody is notified in their place")
        return None
    return number


def _duplicate(
    contacts: Sequence[Contact], earlier: int, name: str, phone: str, groups: frozenset[str]
) -> str:
    first = contacts[earlier]
    who = f" ({first.name})" if first.name else ""
    added = sorted(groups - first.groups)
    also = f"; its groups {', '.join(added)} were added to line {first.line}" if added else ""
    return _who(
        name, f"the number {phone} is already on line {first.line}{who}, so this row is not used{also}"
    )


# load_contacts' memo: a file unchanged on disk (same inode, size, mtime and ctime) is parsed
# once per process — a send reads it for the preview and again for the plan. ContactsLoad is
# immutable (tuples of frozen contacts), so sharing it is safe.
_LOADED: dict[tuple[str, str], tuple[tuple[int, int, int, int], ContactsLoad]] = {}
_LOADED_MAX = 8
_SETTLED_NS = 2_000_000_000  # file timestamps can be coarse (a few ms): a fresher file is re-read
_CACHE_DIR: list[Path] = []  # where parsed files are kept between processes (crisiscast.contacts_cache)


def set_cache_dir(directory: Path | None) -> None:
    """Keep parsed contacts files in ``directory`` between processes (None: do not)."""
    _CACHE_DIR[:] = [] if directory is None else [directory]


def load_contacts(path: str | Path, *, default_region: str = "US") -> ContactsLoad:
    """Read the contacts CSV at ``path`` (UTF-8, a byte-order mark is allowed).

    A file unchanged on disk since this process last read it is not parsed again; with a cache
    directory (``set_cache_dir``), a file whose exact bytes were parsed before is read from
    there (``crisiscast.contacts_cache``).

    Raises ``ConfigError`` when the file cannot be read or lacks a required column; bad
    rows are returned as problems, never raised.
    """
    file = Path(path)
    try:
        with file.open("rb") as fh:
            stat = os.fstat(fh.fileno())
            key = (str(file), default_region)
            version = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            cached = _LOADED.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
            content = fh.read()
        load = _parse_file(content, file, default_region)
        if time.time_ns() - stat.st_mtime_ns > _SETTLED_NS:  # not a file being written now
            if len(_LOADED) >= _LOADED_MAX:
                _LOADED.clear()
            _LOADED[key] = (version, load)
        return load
    except FileNotFoundError:
        raise ConfigError(
            f"The contacts file {file} does not exist; set channels.sms.contacts to the staff contacts CSV."
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"The contacts file {file} is not UTF-8 text; save it as UTF-8 CSV.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the contacts file {file}: {exc.strerror or exc}.") from None


def _parse_file(content: bytes, file: Path, default_region: str) -> ContactsLoad:
    """``content`` parsed, or the parse of the same bytes kept in the cache directory."""
    text = content.decode("utf-8-sig")  # before the cache: a file that is not UTF-8 is refused
    directory = _CACHE_DIR[0] if _CACHE_DIR else None
    if directory is None:
        return parse_contacts(io.StringIO(text, newline=""), default_region=default_region, source=str(file))
    from crisiscast.contacts_cache import cache_key, read_cached, write_cached

    cache = cache_key(content, default_region)
    load = read_cached(directory, cache)
    if load is None:
        load = parse_contacts(io.StringIO(text, newline=""), default_region=default_region, source=str(file))
        write_cached(directory, cache, load)
    return load


def select_recipients(
    contacts: Sequence[Contact], groups: Collection[str], *, only: Collection[str] | None = None
) -> list[Contact]:
    """Contacts in any of ``groups``, one per phone number (the first row wins), in file order.

    ``only`` (E.164 numbers) further restricts the result, e.g. to the recipients an earlier
    message reached.
    """
    wanted = {g.lower() for g in groups}
    allowed = None if only is None else set(only)
    seen: set[str] = set()
    out: list[Contact] = []
    for contact in contacts:
        if contact.phone in seen or wanted.isdisjoint(contact.groups):
            continue
        if allowed is not None and contact.phone not in allowed:
            continue
        seen.add(contact.phone)
        out.append(contact)
    return out


def _blank_or_comment(row: list[str]) -> bool:
    return not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#")


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def _who(name: str, reason: str) -> str:
    return f"{reason} ({name})" if name else reason
