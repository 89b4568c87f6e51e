"""Hostile message files through the real console script: exit 2 and one sentence, at once."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.asyncio


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
async def test_preview_of_a_named_pipe_exits_2_at_once(cli: Cli) -> None:
    """``crisiscast preview`` of a FIFO does not hang: it exits 2 with one sentence."""
    fifo = cli.tmp_path / "alert.yaml"
    os.mkfifo(fifo)
    result = await cli.run("preview", str(fifo))
    assert result.code == 2, result
    assert "is not a regular file (it is a named pipe)" in result.stderr
    assert "Traceback" not in result.stderr


async def test_send_of_a_deeply_nested_file_exits_2(cli: Cli) -> None:
    """A file nesting thousands of lists deep is exit 2 with a sentence, not exit 1."""
    deep = cli.tmp_path / "alert.json"
    deep.write_text('{"status": "Exercise", "headline": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}")
    result = await cli.run("send", str(deep), "--yes")
    assert result.code == 2, result
    assert "more than 16 levels deep" in result.stderr


async def test_a_message_file_with_an_escape_sequence_is_refused(cli: Cli) -> None:
    """A headline holding ESC[8m (which would hide the real words on the approver's screen) is
    refused with exit 2 before any preview is shown."""
    path = cli.tmp_path / "alert.yaml"
    path.write_text('status: Exercise\nheadline: "Drill \\e[8mEVACUATE ALL BUILDINGS NOW"\n')
    result = await cli.run("send", str(path), "--yes")
    assert result.code == 2, result
    assert "'headline'" in result.stderr and "U+001B" in result.stderr
    twilio: Any = cli.sandbox.fakes["twilio"]
    assert twilio.messages() == []


async def test_printed_sentences_show_control_characters_as_escapes(cli: Cli) -> None:
    """Whatever a sentence quotes (here a file name holding ESC[2J), the raw escape sequence never
    reaches the terminal: it is printed as visible text."""
    name = "\x1b[2Jalert.yaml"
    result = await cli.run("preview", name)
    assert result.code == 2, result
    assert "\x1b" not in result.stderr
    assert "\\x1b[2Jalert.yaml" in result.stderr
