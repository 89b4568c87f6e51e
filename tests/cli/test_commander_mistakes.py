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
