"""Message files that are hostile or careless: each is one plain sentence, never a hang or a crash."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisiscast.errors import MessageFileError
from crisiscast.loader import MAX_FILE_BYTES, load_message

GOOD = "status: Exercise\nheadline: Evacuation drill in Building A\n"


def _refused(path: Path) -> str:
    with pytest.raises(MessageFileError) as info:
        load_message(path)
    sentence = str(info.value)
    assert "\n" not in sentence and sentence.startswith(f"The message file {path} ")
    return sentence


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO named like a message file is refused at once (reading it would block forever)."""
    path = tmp_path / "m.yaml"
    os.mkfifo(path)
    assert "is not a regular file (it is a named pipe)" in _refused(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_unread(tmp_path: Path) -> None:
    """A link to /dev/zero is refused unread (reading it would fill memory)."""
    path = tmp_path / "m.yaml"
    path.symlink_to("/dev/zero")
    assert "is not a regular file (it is a device)" in _refused(path)


def test_a_file_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    """A file larger than 1 MB is refused; one just under loads."""
    path = tmp_path / "m.yaml"
    padding = "#" * 100 + "\n"
    path.write_text(GOOD + padding * (MAX_FILE_BYTES // len(padding) + 1), encoding="utf-8")
    assert "is larger than 1 MB" in _refused(path)
    path.write_text(GOOD + padding * (MAX_FILE_BYTES // len(padding) - 1), encoding="utf-8")
    assert load_message(path).headline == "Evacuation drill in Building A"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("deep.yaml", GOOD + "description: " + "[" * 3000 + "]" * 3000 + "\n", "more than 16 levels deep"),
        (
            "deep.json",
            '{"status": "Exercise", "headline": "x", "a": ' + "[" * 50_000 + "]" * 50_000 + "}",
            "more than 16 levels deep",
        ),
        ("shallow.yaml", GOOD + "description: " + "[" * 20 + "]" * 20 + "\n", "more than 16 levels deep"),
        ("list-key.yaml", GOOD + "? [a, b]\n: y\n", "has a field name that is not text at line 3"),
        ("int-key.yaml", GOOD + "1: y\n", "has a field name that is not text at line 3"),
        ("bad-stamp.yaml", GOOD + "sent: !!timestamp garbage\n", "has 'garbage' in 'sent'"),
        ("bad-float.yaml", GOOD + "description: !!float nope\n", "holds a tagged value"),
        (
            "long-number.json",
            '{"status": "Exercise", "headline": "x", "n": ' + "1" * 5000 + "}",
            "holds a number too long to read",
        ),
    ],
)
def test_structures_yaml_and_json_cannot_hold_are_a_sentence(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    """Deep nesting, non-text keys, bad tagged values and huge numbers each get a sentence
    (these were exit 1 crashes: RecursionError, TypeError, AttributeError, ValueError)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert expected in _refused(path)


def test_an_explicit_timestamp_tag_is_read_as_text(tmp_path: Path) -> None:
    """``!!timestamp`` keeps its text like an untagged date, so the model parses and checks it."""
    path = tmp_path / "m.yaml"
    now = datetime.now(UTC).replace(microsecond=0)  # a sent far from the clock is refused
    path.write_text(GOOD + f"sent: !!timestamp {now:%Y-%m-%dT%H:%M:%S}Z\n", encoding="utf-8")
    assert load_message(path).sent == now
    path.write_text("status: Exercise\nheadline: !!timestamp 2026-01-01\n", encoding="utf-8")
    assert load_message(path).headline == "2026-01-01"
