"""The descriptive contact columns (role, department, building, floor, shift) and the supervisor."""

from __future__ import annotations

from crisiscast.contacts import parse_contacts

HEADER = "name,phone,groups,role,department,building,floor,shift,supervisor\n"


def test_descriptive_columns_are_kept_as_written_and_the_supervisor_normalised() -> None:
    load = parse_contacts(
        (
            HEADER + "Ana,+16175550101,staff,nurse,ED,B,3,day,(617) 555-0150\nBen,+16175550102,staff,,,,,,\n"
        ).splitlines(keepends=True)
    )
    ana, ben = load.contacts
    assert ana.attributes == {
        "role": "nurse",
        "department": "ED",
        "building": "B",
        "floor": "3",
        "shift": "day",
    }
    assert ana.supervisor == "+16175550150"
    assert ben.attributes == dict.fromkeys(("role", "department", "building", "floor", "shift"), "")
    assert ben.supervisor is None and not load.problems and not load.notes


def test_a_bad_or_own_supervisor_is_noted_and_ignored_but_the_person_kept() -> None:
    load = parse_contacts(
        (
            HEADER + "Ana,+16175550101,staff,,,,,,call Bob\nBen,+16175550102,staff,,,,,,+16175550102\n"
        ).splitlines(keepends=True)
    )
    assert [c.supervisor for c in load.contacts] == [None, None]
    assert len(load.notes) == 2 and "supervisor" in str(load.notes[0]) and "own" in str(load.notes[1])


def test_files_without_the_columns_keep_working() -> None:
    (only,) = parse_contacts(["name,phone,groups\n", "Ana,+16175550101,staff\n"]).contacts
    assert only.role == "" and only.supervisor is None
