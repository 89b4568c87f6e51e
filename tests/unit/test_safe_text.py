"""Control, direction and invisible characters: refused in every text field, escaped on screens."""

from __future__ import annotations

import io

import pytest
from pydantic import ValidationError

from crisiscast.cli.safe_console import SafeConsole
from crisiscast.message import CrisisMessage, MessageText, Status
from crisiscast.safe_text import terminal_safe, unsafe_character

HOSTILE = {
    "ESC (hides text)": "Drill \x1b[8mEVACUATE ALL BUILDINGS NOW",
    "clear screen": "\x1b[2JDrill",
    "C1 CSI": "Drill \x9b8m hidden",
    "bell": "Drill\x07",
    "carriage return": "Evacuate\rAll clear",
    "right-to-left override": "Drill \u202eWON TUO TEG",
    "isolate": "Drill \u2066x\u2069",
    "zero-width space": "Dr\u200bill",
    "soft hyphen": "Dr\u00adill",
    "byte-order mark": "\ufeffDrill",
    "line separator": "Drill\u2028EVACUATE",
    "Hangul filler": "Drill\u3164",
    "tag character": "Drill\U000e0041",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("field", ["headline", "description", "instruction", "event", "sender", "identifier"])
def test_every_text_field_refuses_hidden_characters(field: str, text: str) -> None:
    """Each message field refuses controls, direction overrides and invisible characters, with a
    reason naming the code point (so the model refuses them at every entry that builds one)."""
    values = {"status": Status.EXERCISE, "headline": "Drill", field: text}
    with pytest.raises(ValidationError) as info:
        CrisisMessage.model_validate(values)
    assert "U+" in str(info.value) and "can hide or change what people see" in str(info.value)


def test_translations_names_and_links_are_checked_too() -> None:
    """Translations, audiences, references and links are checked like the main text."""
    bad = "a\u202eb"
    for values in (
        {"translations": {"es": {"headline": bad}}},
        {"audiences": [bad]},
        {"web": "https://example.org/\u200b"},
        {"channel_text": {"sms": {"en": {"headline": "x", "instruction": bad}}}},
    ):
        with pytest.raises(ValidationError):
            CrisisMessage.model_validate({"status": "Exercise", "headline": "Drill", **values})
    with pytest.raises(ValidationError):
        MessageText(headline="x\x1b")


def test_line_breaks_only_where_text_has_lines() -> None:
    """A newline is allowed in description and instruction (CR LF becomes LF), never in a headline."""
    m = CrisisMessage(status=Status.EXERCISE, headline="Drill", description="one\r\ntwo", instruction="a\nb")
    assert m.description == "one\ntwo" and m.instruction == "a\nb"
    with pytest.raises(ValidationError):
        CrisisMessage(status=Status.EXERCISE, headline="Drill\nEVACUATE")
    with pytest.raises(ValidationError):
        CrisisMessage(status=Status.EXERCISE, headline="Drill", description="one\rtwo")


def test_ordinary_text_in_many_scripts_and_emoji_is_allowed() -> None:
    """Accents, other scripts, emoji sequences with joiners and non-breaking spaces are text."""
    for text in (
        "Simulacro de evacuación — edificio B",
        "Пожарная тревога",
        "火災警報",
        "👩\u200d⚕️ staff to ward 3",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero-width non-joiner
        "Building\u00a0A",
    ):
        assert unsafe_character(text) is None, text
        assert CrisisMessage(status=Status.EXERCISE, headline=text).headline == text


def test_terminal_safe_shows_controls_as_escapes() -> None:
    """Printed text keeps newlines and tabs; every other hidden character becomes a visible escape."""
    assert terminal_safe("a\x1b[2Jb\u202ec\n\td\x9b") == "a\\x1b[2Jb\\u202ec\n\td\\x9b"
    assert terminal_safe("plain text") == "plain text"


def test_the_console_never_writes_a_texts_own_escape_sequences() -> None:
    """The CLI's console prints a hostile string's ESC sequences as visible text, while its own
    colours still work: the raw ``ESC[8m``/``ESC[2J`` never reach the terminal."""
    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, color_system="standard", width=100, highlight=False)
    console.print("Drill \x1b[8mEVACUATE \x1b[2J \u202eend", style="red")
    written = out.getvalue()
    assert "\x1b[8m" not in written and "\x1b[2J" not in written and "\u202e" not in written
    assert "\\x1b[8mEVACUATE" in written and "\\u202eend" in written
    assert "\x1b[31m" in written  # the console's own red
