"""Contacts with paths: the optional email, voice and paths columns, and ``check_contacts``."""

from __future__ import annotations

from crisiscast.contacts import Contact, parse_contacts
from crisiscast.contacts_check import OptOut, check_contacts


def _parse(text: str) -> tuple[tuple[Contact, ...], list[str], list[str]]:
    load = parse_contacts(text.splitlines())
    return load.contacts, [str(n) for n in load.notes], [str(p) for p in load.problems]


def test_a_file_without_the_new_columns_reads_as_before() -> None:
    """No email/voice/paths columns: SMS only, voice falls back to the phone number."""
    [ana], notes, problems = _parse("name,phone,groups,language\nAna,+16175550101,staff,es\n")
    assert (ana.paths, ana.email, ana.voice, ana.voice_number) == (("sms",), None, "+16175550101", None)
    assert notes == problems == []


def test_paths_come_from_the_addresses_given_in_a_stable_order() -> None:
    """Without a paths column: sms, then voice when a voice number is given, then email."""
    [ben], _, _ = _parse(
        "name,phone,groups,email,voice\nBen,+16175550102,staff,Ben.O@Hospital.EXAMPLE,(617) 555-0150\n"
    )
    assert ben.paths == ("sms", "voice", "email")
    assert ben.email == "Ben.O@hospital.example" and ben.voice == "+16175550150"


def test_the_paths_column_orders_and_voice_falls_back_to_the_phone() -> None:
    """paths=email;voice;sms keeps that order; voice listed without a voice number calls the phone."""
    [cy], notes, _ = _parse(
        "name,phone,groups,email,paths\nCy,+16175550103,staff,cy@hospital.example,email;voice;sms\n"
    )
    assert cy.paths == ("email", "voice", "sms") and cy.voice == cy.phone and notes == []


def test_a_bad_value_is_noted_and_the_row_kept() -> None:
    """A bad e-mail, an unknown path, a path without address: the person stays reachable by SMS."""
    [di], notes, problems = _parse(
        "name,phone,groups,email,paths\nDi,+16175550104,staff,di@@hospital,email;fax;sms\n"
    )
    assert di.paths == ("sms",) and di.email is None and problems == []
    assert any("e-mail address 'di@@hospital' is not valid" in n and n.startswith("line 2:") for n in notes)
    assert any("'fax' is not one of sms, voice, email" in n for n in notes)
    assert any("'email' is listed but the row gives no usable address" in n for n in notes)


def test_check_names_people_and_audiences_without_an_alternate_means() -> None:
    """One path only, or SMS gone after an opt-out: named; an audience of such people: named."""
    load = parse_contacts(
        [
            "name,phone,groups,email",
            "Eve,+16175550105,icu,eve@hospital.example",
            "Fay,+16175550106,icu,",
            "Gus,+16175550107,lab,gus@hospital.example",
            "Hal,+16175550108,lab,",
        ]
    )
    stop = OptOut("+16175550107", "d-1")
    report = check_contacts(load, {"icu-team": ["ICU"], "lab-team": ["lab"]}, [stop])
    assert [c.name for c in report.without_alternate] == ["Fay", "Gus", "Hal"]
    assert report.audiences_without_alternate == [("lab-team", 2)]
    assert [(o.number, o.name) for o in report.opted_out] == [("+16175550107", "Gus")]
    assert not report.ok and "nobody in lab-team" in report.summary()


def test_check_reports_duplicates_and_is_ok_when_nothing_needs_fixing() -> None:
    """The same number or address twice is reported; a clean file is ok."""
    dup = parse_contacts(
        ["name,phone,groups,email", "A,+16175550101,x,a@h.example", "B,+16175550101,x,A@h.example"]
    )
    report = check_contacts(dup, {})
    assert [(d.what, d.lines) for d in report.duplicates] == [("phone", (2, 3)), ("e-mail", (2, 3))]
    clean = parse_contacts(["name,phone,groups,email", "A,+16175550101,x,a@h.example"])
    assert check_contacts(clean, {"x": ["x"]}).ok
