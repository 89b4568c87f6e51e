"""The parsed contacts file kept on disk between processes (``crisiscast.contacts_cache``).

The cache may only ever save time: what ``load_contacts`` returns from it is exactly what the
full parse returns for the same bytes and region (a property over generated files), a change to
the file or the region is a miss, and an entry that is damaged, foreign or writable by others is
never used.
"""

from __future__ import annotations

import gc
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisiscast import contacts as contacts_module
from crisiscast.contacts import ContactsLoad, load_contacts, parse_contacts, set_cache_dir
from crisiscast.contacts_cache import KEEP, cache_key

HEADER = "name,phone,groups,language,email,voice,paths,role,supervisor\n"
ROWS = (
    "Ana,+1 617 555 0101,staff;icu,es,ana@example.org,,sms;email,nurse,+16175550150",
    "Ben,(617) 555-0102,staff,en,not-an-address,+1 617 555 0199,voice;fax,,call Bob",
    "Cy,+16175550101,drill-team,en,,,,,",  # repeats Ana's number
    "Dee,+1 617 253 1OOO,staff,en,,,,,",  # a letter O
    "Eve,911,staff,en,,,,,",  # emergency
    "Fay,+1 900 555 0123,staff,en,,,,,",  # premium rate
    "Gus,+44 20 7946 0958,staff,en-GB,,,,,",
    "Hal,+16175550104,,en,,,,,",  # no groups
    "Ida,+16175550105,staff,klingon!,,,,,",  # bad language
    "# a comment",
    "",
    "Jo,+16175550106,staff,pt-BR,,,,ED,+16175550106",  # own supervisor
    "Kim,617 555 0107,staff,,,,,,",
)


@pytest.fixture(autouse=True)
def _no_memo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each load goes to the file (and the cache), never to this process's memo."""
    monkeypatch.setattr(contacts_module, "_LOADED", {})
    monkeypatch.setattr(contacts_module, "_SETTLED_NS", 10**30)
    yield
    set_cache_dir(None)


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _full(file: Path, region: str) -> ContactsLoad:
    with file.open(encoding="utf-8", newline="") as fh:
        return parse_contacts(fh, default_region=region)


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.contacts.json"))


def test_a_second_load_reads_the_entry_and_returns_the_same_contacts(tmp_path: Path) -> None:
    file = _write(tmp_path / "contacts.csv", list(ROWS))
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    first = load_contacts(file, default_region="US")
    (entry,) = _entries(cache)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    second = load_contacts(file, default_region="US")
    assert second == first == _full(file, "US")
    assert first.problems and first.notes and first.repeats  # the file exercises every part


def test_the_second_load_is_served_from_the_entry(tmp_path: Path) -> None:
    """An entry rewritten by its owner (kept valid) is what the next load returns: it was read."""
    file = _write(tmp_path / "contacts.csv", list(ROWS[:2]))
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    load_contacts(file, default_region="US")
    (entry,) = _entries(cache)
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["contacts"][0][0] = "Ana (from the cache)"
    entry.write_text(json.dumps(data), encoding="utf-8")
    assert load_contacts(file, default_region="US").contacts[0].name == "Ana (from the cache)"


def test_a_changed_file_or_region_is_a_miss(tmp_path: Path) -> None:
    file = _write(tmp_path / "contacts.csv", ["Ana,617 555 0101,staff,en,,,,,"])
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    assert load_contacts(file, default_region="US").contacts[0].phone == "+16175550101"
    _write(file, ["Ana,617 555 0102,staff,en,,,,,"])  # same size, new bytes
    assert load_contacts(file, default_region="US").contacts[0].phone == "+16175550102"
    gb = load_contacts(file, default_region="GB")
    assert gb == _full(file, "GB")
    assert len(_entries(cache)) == 3
    assert cache_key(b"x", "US") != cache_key(b"x", "GB") != cache_key(b"y", "GB")


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # torn
        lambda p: p.write_text("[]", encoding="utf-8"),  # not an entry
        lambda p: p.write_text(
            json.dumps({**json.loads(p.read_text()), "key": "0" * 64}), encoding="utf-8"
        ),  # another file's entry
        lambda p: p.write_text(
            json.dumps({**json.loads(p.read_text()), "contacts": [["Ana", 16175550101]]}), encoding="utf-8"
        ),  # wrong shape
        lambda p: p.write_text("[" * 100_000, encoding="utf-8"),  # nested past the parser's depth
        lambda p: p.chmod(0o000),  # unreadable (root reads it anyway: then it is intact)
    ],
)
def test_a_damaged_entry_is_never_used_and_is_replaced(tmp_path: Path, damage: object) -> None:
    file = _write(tmp_path / "contacts.csv", list(ROWS))
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    expected = load_contacts(file, default_region="US")
    (entry,) = _entries(cache)
    damage(entry)  # type: ignore[operator]
    assert load_contacts(file, default_region="US") == expected
    assert gc.isenabled(), "the collector paused for reading an entry is back on, whatever the entry"
    entry.chmod(0o600)
    assert load_contacts(file, default_region="US") == expected


def test_an_entry_others_may_write_is_not_trusted(tmp_path: Path) -> None:
    file = _write(tmp_path / "contacts.csv", list(ROWS[:2]))
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    expected = load_contacts(file, default_region="US")
    (entry,) = _entries(cache)
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["contacts"][0][1] = "+19005550123"  # someone else's number
    entry.write_text(json.dumps(data), encoding="utf-8")
    entry.chmod(0o666)
    assert load_contacts(file, default_region="US") == expected


def test_a_cache_directory_that_cannot_be_made_only_means_no_cache(tmp_path: Path) -> None:
    file = _write(tmp_path / "contacts.csv", list(ROWS[:2]))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    set_cache_dir(blocker / "cache")
    assert load_contacts(file, default_region="US") == _full(file, "US")


def test_at_most_keep_entries_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    set_cache_dir(cache)
    file = tmp_path / "contacts.csv"
    for i in range(KEEP + 3):
        _write(file, [f"P{i},+1617555{i:04d},staff,en,,,,,"])
        load_contacts(file, default_region="US")
    assert len(_entries(cache)) == KEEP


def test_a_file_that_is_not_utf8_is_refused_with_or_without_the_cache(tmp_path: Path) -> None:
    from crisiscast.errors import ConfigError

    file = tmp_path / "contacts.csv"
    file.write_bytes(HEADER.encode() + b"Ana,+16175550101,staff,\xff\n")
    set_cache_dir(tmp_path / "cache")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_contacts(file)
    assert not (tmp_path / "cache").exists()


_PHONES = st.sampled_from(
    [
        "+16175550101",
        "+1 617 555 0102",
        "(617) 555-0103",
        "617.555.0104",
        "+16175550101",  # a repeat
        "+442079460958",
        "+33 1 23 45 67 89",
        "911",
        "+19005550123",
        "+1 617 253 1OOO",
        "12",
        "",
        "not a number",
        "+999 123",
    ]
)
_CELL = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_ROW = st.tuples(
    _CELL,
    _PHONES,
    st.sampled_from(["staff", "staff;icu", "", " DRILL-team "]),
    st.sampled_from(["en", "es", "pt-BR", "", "x!"]),
    st.sampled_from(["", "a@example.org", "bad@"]),
    st.sampled_from(["", "+16175550199", "+16175550101", "nope"]),
    st.sampled_from(["", "sms;voice", "email;fax", "voice"]),
    _CELL,
    _PHONES,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, max_size=12), region=st.sampled_from(["US", "GB", "FR"]))
def test_the_cache_returns_what_the_full_parse_returns(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, ...]], region: str
) -> None:
    import csv
    import io

    directory = tmp_path_factory.mktemp("prop")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "groups", "language", "email", "voice", "paths", "role", "supervisor"])
    writer.writerows(rows)
    file = directory / "contacts.csv"
    file.write_text(out.getvalue(), encoding="utf-8", newline="")
    full = parse_contacts(io.StringIO(out.getvalue(), newline=""), default_region=region)
    set_cache_dir(directory / "cache")
    contacts_module._LOADED.clear()
    assert load_contacts(file, default_region=region) == full  # parsed, entry written
    contacts_module._LOADED.clear()
    assert load_contacts(file, default_region=region) == full  # from the entry
    assert len(_entries(directory / "cache")) == 1


def test_rows_that_repeat_a_value_share_one_copy_parsed_or_read_from_the_cache(tmp_path: Path) -> None:
    """A 100,000-row file repeats a few group sets, languages, paths and departments: each
    contact refers to one shared copy of each, whether the file was parsed or the entry read."""
    rows = [f"P{i},+1617555{1000 + i},staff;icu,es,,,sms,nurse," for i in range(3)]
    file = _write(tmp_path / "contacts.csv", rows)
    set_cache_dir(tmp_path / "cache")
    parsed = load_contacts(file, default_region="US").contacts
    cached = load_contacts(file, default_region="US").contacts  # served from the entry
    assert _entries(tmp_path / "cache") and cached == parsed
    for contacts in (parsed, cached):
        first, *others = contacts
        for other in others:
            assert other.groups is first.groups and other.language is first.language
            assert other.paths is first.paths and other.role is first.role
