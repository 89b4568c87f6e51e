"""The contacts CSV: validation, E.164 normalisation, line-numbered problems, de-duplication."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crisiscast.contacts import (
    ContactProblem,
    ContactsLoad,
    load_contacts,
    normalise_phone,
    parse_contacts,
    select_recipients,
)
from crisiscast.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _parse(text: str, region: str = "US") -> ContactsLoad:
    return parse_contacts(text.splitlines(keepends=True), default_region=region)


def test_good_rows_are_normalised_to_e164() -> None:
    """Numbers in any common notation become E.164; groups are split on ';' and lower-cased."""
    load = _parse(
        "name,phone,groups,language\n"
        "Ana,+1 617 555 0101,Staff;ICU,es\n"
        "Ben,(617) 555-0102,staff,\n"
        "Cy,+44 20 7946 0958,staff; london ,en-GB\n"
    )
    assert load.problems == ()
    assert [c.phone for c in load.contacts] == ["+16175550101", "+16175550102", "+442079460958"]
    assert load.contacts[0].groups == frozenset({"staff", "icu"})
    assert load.contacts[2].groups == frozenset({"staff", "london"})
    assert [c.language for c in load.contacts] == ["es", "en", "en-gb"]
    assert [c.line for c in load.contacts] == [2, 3, 4]


def test_default_region_reads_national_numbers() -> None:
    """A number without a country code is read in the configured default region."""
    assert normalise_phone("612 34 56 78", "ES") == "+34612345678"
    assert normalise_phone("(617) 555-0101", "US") == "+16175550101"


def test_bad_rows_are_skipped_and_reported_with_line_numbers() -> None:
    """Each bad row is a problem naming its line and a plain reason; good rows still load."""
    load = _parse(
        "# a comment line\n"
        "name,phone,groups,language\n"
        "Good,+1 617 555 0101,staff,en\n"
        "Short,617-555-01,staff,en\n"
        "\n"
        "Empty,,staff,en\n"
        "NoGroups,+1 617 555 0104,,en\n"
        "BadLang,+1 617 555 0105,staff,english!\n"
        "Words,call the desk,staff,en\n"
    )
    assert [c.name for c in load.contacts] == ["Good"]
    assert [p.line for p in load.problems] == [4, 6, 7, 8, 9]
    reasons = [p.reason for p in load.problems]
    assert "not a valid number" in reasons[0]
    assert "empty" in reasons[1]
    assert "no groups" in reasons[2]
    assert "language" in reasons[3]
    assert "not a phone number" in reasons[4]
    assert str(load.problems[0]).startswith("line 4: ")
    assert all("\n" not in str(p) for p in load.problems)


def test_quoted_multiline_cell_keeps_line_numbers_true() -> None:
    """Line numbers are the file's own, even after a quoted cell spanning two lines."""
    load = _parse('name,phone,groups,language\n"Two\nLines",+1 617 555 0101,staff,en\nBad,xx,staff,en\n')
    assert load.contacts[0].name == "Two\nLines"
    assert load.problems == (ContactProblem(4, "the phone number 'xx' is not a phone number (Bad)"),)


def test_missing_phone_column_is_a_config_error() -> None:
    """A header without the phone column cannot be used at all: one plain ConfigError."""
    with pytest.raises(ConfigError, match="no 'phone' column"):
        _parse("name,number,groups\nAna,+16175550101,staff\n")


def test_columns_in_any_order_and_extra_columns_ignored() -> None:
    """Columns are found by name; unknown columns are ignored; language defaults to en."""
    load = _parse("groups,extension,phone\nstaff,4411,+1 617 555 0101\n")
    assert load.problems == ()
    assert load.contacts[0].phone == "+16175550101"
    assert load.contacts[0].language == "en"
    assert load.contacts[0].name == ""


def test_select_dedupes_across_groups_first_row_wins() -> None:
    """One recipient per number across audiences; the first row's language is used."""
    load = _parse(
        "name,phone,groups,language\n"
        "Ana,+1 617 555 0101,icu,es\n"
        "Ana again,(617) 555-0101,staff,en\n"
        "Ben,+1 617 555 0102,staff,en\n"
        "Cy,+1 617 555 0103,drill-team,en\n"
    )
    chosen = select_recipients(load.contacts, ["staff", "ICU"])
    assert [(c.phone, c.language) for c in chosen] == [("+16175550101", "es"), ("+16175550102", "en")]


def test_select_only_restricts_to_given_numbers() -> None:
    """``only`` keeps just the numbers an earlier message reached."""
    load = _parse("name,phone,groups,language\nA,+16175550101,staff,en\nB,+16175550102,staff,en\n")
    chosen = select_recipients(load.contacts, ["staff"], only={"+16175550102"})
    assert [c.phone for c in chosen] == ["+16175550102"]


def test_load_file_with_bom_and_missing_file(tmp_path: Path) -> None:
    """A UTF-8 file with a byte-order mark loads; a missing file is a plain ConfigError."""
    path = tmp_path / "contacts.csv"
    path.write_bytes("\ufeffname,phone,groups,language\nAna,+16175550101,staff,es\n".encode())
    assert load_contacts(path).contacts[0].phone == "+16175550101"
    with pytest.raises(ConfigError, match="does not exist"):
        load_contacts(tmp_path / "nope.csv")
    path.write_bytes(b"name,phone,groups\nJos\xe9,+16175550101,staff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_contacts(path)


def test_shipped_samples_load() -> None:
    """The sandbox sample has ~30 good staff incl. Spanish and a drill team; the bad example
    reports its mistakes by line."""
    sample = load_contacts(REPO / "config" / "contacts.csv")
    assert sample.problems == ()
    assert len(sample.contacts) >= 25
    assert any(c.language == "es" for c in sample.contacts)
    assert any("drill-team" in c.groups for c in sample.contacts)
    bad = load_contacts(REPO / "config" / "examples" / "contacts-with-errors.csv")
    assert len(bad.contacts) == 2
    assert len(bad.problems) == 5


@pytest.mark.slow  # a scale run (`make test-slow`); the parse itself is covered row by row above
def test_fifty_thousand_rows_load(tmp_path: Path) -> None:
    """A 50,000-row file loads completely (the time is printed, not asserted)."""
    path = tmp_path / "big.csv"
    rows = [
        f"Person {i},+1 617 {200 + i // 10000:03d} {i % 10000:04d},staff,{'es' if i % 7 == 0 else 'en'}"
        for i in range(50_000)
    ]
    path.write_text("name,phone,groups,language\n" + "\n".join(rows) + "\n", encoding="utf-8")
    started = time.perf_counter()
    load = load_contacts(path)
    print(f"50,000 contacts loaded in {time.perf_counter() - started:.2f} s")
    assert load.problems == ()
    assert len({c.phone for c in load.contacts}) == 50_000
