"""Message files: good files load, every bad file is one plain sentence naming file and field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crisiscast.errors import MessageFileError
from crisiscast.loader import load_message, parse_message
from crisiscast.message import MsgType, Status

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "examples"

GOOD_YAML = """\
status: Exercise
headline: Evacuation drill in Building A
sent: 2026-11-28T14:05:00Z
expires: 2026-11-28T18:00:00+01:00
translations:
  es:
    headline: Simulacro de evacuación
"""


@pytest.mark.parametrize(
    ("name", "status", "languages"),
    [
        ("fire-alert.yaml", Status.ACTUAL, ("en",)),
        ("exercise.yaml", Status.EXERCISE, ("en",)),
        ("long-two-language.yaml", Status.ACTUAL, ("en", "es")),
    ],
)
def test_shipped_examples_load(name: str, status: Status, languages: tuple[str, ...]) -> None:
    """Every shipped example is a valid message with the status its name promises."""
    message = load_message(EXAMPLES / name)
    assert message.status is status
    assert message.languages == languages
    assert message.msg_type is MsgType.ALERT


def test_shipped_broken_example_names_the_field_and_the_allowed_values() -> None:
    """The shipped broken example fails on its misspelt status, listing the allowed ones."""
    with pytest.raises(MessageFileError) as info:
        load_message(EXAMPLES / "broken.yaml")
    assert str(info.value) == (
        f"The message file {EXAMPLES / 'broken.yaml'} has 'Excercise' in 'status', which is not allowed; "
        "use one of Actual, Exercise, Test."
    )


def test_yaml_dates_are_parsed_as_aware_times(tmp_path: Path) -> None:
    """YAML timestamps go through the model (UTC, aware), including 'Z' and offsets."""
    path = tmp_path / "m.yml"
    path.write_text(GOOD_YAML, encoding="utf-8")
    message = load_message(path)
    assert message.sent.isoformat() == "2026-11-28T14:05:00+00:00"
    assert message.expires is not None and message.expires.isoformat() == "2026-11-28T17:00:00+00:00"
    assert message.text("es").headline == "Simulacro de evacuación"


def test_json_file_loads(tmp_path: Path) -> None:
    """A .json message file is read as JSON."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"status": "Test", "headline": "Pager test", "channels": ["sms"]}), "utf-8")
    message = load_message(path)
    assert message.status is Status.TEST
    assert message.channels == ("sms",)


BAD_FILES = [
    (
        "m.yaml",
        "status: Actual\n",
        "is missing the required field 'headline'; add it (see config/examples/).",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nheadlne2: x\nseverty: Severe\n",
        "has an unknown field 'headlne2' (did you mean 'headline'?); remove it or fix its spelling.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nseverity: Bad\n",
        "has 'Bad' in 'severity', which is not allowed; "
        "use one of Extreme, Severe, Moderate, Minor, Unknown.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nexpires: tomorrow\n",
        "has 'tomorrow' in 'expires', which is not a date and time; write it like 2026-11-28T14:05:00+00:00.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nexpires: 2030-01-01T10:00:00\n",
        "has an invalid 'expires': must include a time zone, for example 2026-11-28T14:05:00+00:00.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nweb: ftp://example.org\n",
        "has an invalid 'web': must be a web address starting with https://.",
    ),
    ("m.yaml", "status: Actual\nheadline: ''\n", "has an empty 'headline'; write some text in it."),
    (
        "m.yaml",
        "status: Actual\nheadline: " + "x" * 170 + "\n",
        "has a 'headline' that is too long (170 characters); shorten it to at most 160 characters.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nlanguage: english\n",
        "has 'english' in 'language'; use a language code such as en, es or pt-BR.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\naudiences: all-staff\n",
        "has 'all-staff' in 'audiences'; it should be a list.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\ntranslations:\n  es:\n    titular: Incendio\n",
        "is missing the required field 'translations.es.headline'; add it (see config/examples/).",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nchannels: [sms, fax]\n",
        "names an unknown channel 'fax' in 'channels'; use twitter, facebook, sms, voice, banner or mqtt.",
    ),
    (
        "m.yaml",
        "status: Actual\nmsg_type: Update\nheadline: Fire\n",
        "is not consistent: a Update must name the message it refers to in references.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: Fire\nheadline: Flood\n",
        "gives the field 'headline' twice (again at line 3); keep only one.",
    ),
    (
        "m.yaml",
        "status: Actual\nheadline: [Fire\n",
        "is not valid YAML: expected ',' or ']', but got '<stream end>' at line 3, column 1; "
        "check the indentation and quoting there.",
    ),
    ("m.yaml", "", "is empty; write at least status and headline."),
    (
        "m.yaml",
        "- status: Actual\n",
        "must hold fields such as 'status: Exercise' and 'headline: ...', not a list.",
    ),
    (
        "m.json",
        '{"status": "Actual", "headline": "Fire",}',
        "is not valid JSON: expecting property name enclosed in double quotes at line 1, column 41.",
    ),
    ("m.json", '{"status": "Actual", "status": "Test"}', "gives the field 'status' twice; keep only one."),
]


@pytest.mark.parametrize(("name", "text", "tail"), BAD_FILES)
def test_bad_file_is_one_plain_sentence(tmp_path: Path, name: str, text: str, tail: str) -> None:
    """Each kind of mistake gets its exact sentence, starting with the file's name."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MessageFileError) as info:
        load_message(path)
    assert str(info.value) == f"The message file {path} {tail}"
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(
        MessageFileError, match=r"^The message file .*nope\.yaml does not exist; check the path\.$"
    ):
        load_message(path)


def test_wrong_suffix(tmp_path: Path) -> None:
    """Only .yaml, .yml and .json are read, whatever the content."""
    path = tmp_path / "m.txt"
    path.write_text("status: Actual\nheadline: x\n", encoding="utf-8")
    with pytest.raises(MessageFileError, match=r"must end in \.yaml, \.yml or \.json"):
        load_message(path)


def test_directory(tmp_path: Path) -> None:
    """A directory named like a message file is refused plainly."""
    path = tmp_path / "d.yaml"
    path.mkdir()
    with pytest.raises(MessageFileError, match=r"is a directory, not a message file"):
        load_message(path)


def test_not_utf8(tmp_path: Path) -> None:
    """A file in another encoding is named as not UTF-8."""
    path = tmp_path / "m.yaml"
    path.write_bytes("status: Actual\nheadline: Incendio en la sección\n".encode("latin-1"))
    with pytest.raises(MessageFileError, match=r"is not UTF-8 text; save it as UTF-8\.$"):
        load_message(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable(tmp_path: Path) -> None:
    """A file without read permission says so."""
    path = tmp_path / "m.yaml"
    path.write_text("status: Actual\nheadline: x\n", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(MessageFileError, match=r"Cannot read the message file .*Permission denied"):
        load_message(path)


def test_parse_message_names_its_origin() -> None:
    """Text parsed without a file (the embedded demo message) is named by its origin."""
    with pytest.raises(MessageFileError, match=r"^The message file <demo> is missing"):
        parse_message("headline: x\n", fmt="yaml", origin="<demo>")
