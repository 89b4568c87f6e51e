"""Careless contacts files: letters in numbers, service numbers, repeated rows, oversized cells."""

from __future__ import annotations

import pytest

from crisiscast.contacts import (
    MAX_FIELD_CHARS,
    ContactsLoad,
    normalise_phone,
    parse_contacts,
    select_recipients,
)

HEADER = "name,phone,groups,language\n"


def _parse(rows: str) -> ContactsLoad:
    return parse_contacts((HEADER + rows).splitlines(keepends=True), default_region="US")


@pytest.mark.parametrize("raw", ["+1 617 253 1OOO", "+1 617 555 O1O1", "617-555-Ol01", "+1 800 FLOWERS"])
def test_letters_in_a_number_are_refused_not_converted(raw: str) -> None:
    """A letter O or l typed for a digit is refused, never read as a keypad digit (O -> 6)."""
    with pytest.raises(ValueError, match="has letters in it"):
        normalise_phone(raw, "US")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("+1 900 555 0123", "a premium-rate number"),
        ("+44 909 879 0879", "a premium-rate number"),
        ("72345", "a short code"),
        ("911", "an emergency number"),
    ],
)
def test_premium_rate_short_and_emergency_numbers_are_flagged(raw: str, kind: str) -> None:
    """Numbers that are services, not people's phones, are reported with what they are."""
    with pytest.raises(ValueError, match=kind):
        normalise_phone(raw, "US")


def test_service_numbers_are_skipped_rows_with_the_reason() -> None:
    """In a contacts file such rows are skipped and reported by line; ordinary numbers load."""
    load = _parse("Ana,+1 617 555 0101,staff,en\nPremium,+1 900 555 0123,staff,en\nShort,72345,staff,en\n")
    assert [c.name for c in load.contacts] == ["Ana"]
    assert [(p.line, "premium-rate" in p.reason or "short code" in p.reason) for p in load.problems] == [
        (3, True),
        (4, True),
    ]


def test_duplicate_rows_are_reported_and_nobody_drops_out() -> None:
    """A row repeating a number is reported naming the first row; its groups join the first row,
    so the person is still reached through either audience, once."""
    load = _parse(
        "Ana,+1 617 555 0101,icu,es\nAna again,(617) 555-0101,staff,en\nBen,+1 617 555 0102,staff,en\n"
        "Ana thrice,+16175550101,icu,en\n"
    )
    assert [(c.name, sorted(c.groups)) for c in load.contacts] == [
        ("Ana", ["icu", "staff"]),
        ("Ben", ["staff"]),
    ]
    reasons = {p.line: p.reason for p in load.problems}
    assert sorted(reasons) == [3, 5]
    assert "is already on line 2 (Ana)" in reasons[3] and "groups staff were added to line 2" in reasons[3]
    assert "is already on line 2 (Ana)" in reasons[5] and "added" not in reasons[5]
    chosen = select_recipients(load.contacts, ["staff"])
    assert [(c.phone, c.language) for c in chosen] == [("+16175550101", "es"), ("+16175550102", "en")]


def test_an_oversized_cell_skips_only_that_row() -> None:
    """A cell over the limit (or over what the csv module reads at all) skips that row only."""
    load = _parse(
        "Ana,+1 617 555 0101,staff,en\n"
        f"{'N' * (MAX_FIELD_CHARS + 1)},+1 617 555 0102,staff,en\n"
        f"Huge,{'9' * 200_000},staff,en\n"
        "Ben,+1 617 555 0103,staff,en\n"
    )
    assert [c.name for c in load.contacts] == ["Ana", "Ben"]
    assert [p.line for p in load.problems] == [3, 4]
    assert all("longer than" in p.reason for p in load.problems)
