"""Mistakes a tired incident commander makes, through the real console script.

Each one gets one plain sentence saying what is wrong and what to do, exit code 2, no
traceback, and nothing is sent that the commander was not shown first.
"""

from __future__ import annotations

import pytest

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


def _one_sentence(text: str) -> str:
    assert "Traceback" not in text
    assert 'File "' not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


async def test_a_directory_without_a_suffix_is_named_as_a_directory(cli: Cli) -> None:
    """A directory given as the message file is called a directory, whatever its name."""
    (cli.tmp_path / "drafts").mkdir()
    result = await cli.run("preview", "drafts")
    assert result.code == 2
    assert _one_sentence(result.stderr) == (
        "drafts is a directory, not a message file; give the path of a file."
    )


async def test_a_typo_in_a_configuration_section_says_what_to_do(cli: Cli) -> None:
    """A misspelt section of the configuration is named, with the likely spelling and the fix."""
    text = cli.config.read_text(encoding="utf-8").replace("[channels.sms]", "[chanels.sms]")
    cli.config.write_text(text, encoding="utf-8")
    result = await cli.run("preview", str(EXAMPLES / "exercise.yaml"))
    assert result.code == 2
    assert _one_sentence(result.stderr) == (
        f"The configuration {cli.config} is invalid: 'chanels' is not a known key "
        "(did you mean 'channels'?); remove it or fix its spelling."
    )


async def test_a_channel_left_out_for_a_missing_secret_is_shown_before_the_question(cli: Cli) -> None:
    """With the Twilio token unset, send says SMS is left out (naming the variable) BEFORE the
    operator confirms, and the question does not list SMS among the channels it sends to."""
    result = await cli.run(
        "send",
        str(EXAMPLES / "exercise.yaml"),
        stdin="n\n",
        env={"CRISISCAST_TWILIO_AUTH_TOKEN": None},
    )
    assert result.code == 2
    assert "SMS: left out: CRISISCAST_TWILIO_AUTH_TOKEN is not set" in result.stdout
    question = next(line for line in result.stderr.splitlines() if line.startswith("Send this"))
    assert "sms" not in question
    assert "twitter" in question
    assert cli.sandbox.fakes["twilio"].requests == []


async def test_preview_shows_a_channel_left_out_for_a_missing_secret(cli: Cli) -> None:
    """preview names the channel send would leave out, and why, instead of showing its text."""
    result = await cli.run(
        "preview", str(EXAMPLES / "exercise.yaml"), env={"CRISISCAST_TWILIO_AUTH_TOKEN": None}
    )
    assert result.code == 0
    assert "SMS: left out: CRISISCAST_TWILIO_AUTH_TOKEN is not set" in result.stdout
    assert "SMS · en" not in result.stdout


async def test_the_approver_can_read_the_draft_they_approve(cli: Cli) -> None:
    """audit show of a draft prints the exact text each channel will get (the preview), so the
    second person reads what they approve, not just the headline."""
    drafted = await cli.run("draft", str(EXAMPLES / "fire-alert.yaml"))
    assert drafted.code == 0, drafted.stderr
    draft_id = drafted.stdout.split("Draft ", 1)[1].split(" ", 1)[0]
    shown = await cli.run("audit", "show", draft_id)
    assert shown.code == 0, shown.stderr
    assert "Staff on level 3 east: move patients to the west wing" in shown.stdout
    assert "SMS · en" in shown.stdout
