"""The console script's help, exit codes and one-sentence errors (never a traceback)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text


async def test_help_lists_every_command(cli: Cli) -> None:
    """--help works without any configuration and names every command."""
    result = await cli.run("--help", with_config=False)
    assert result.code == 0
    for command in ("preview", "send", "audit", "demo", "sandbox"):
        assert command in result.stdout
    sub = await cli.run("audit", "--help", with_config=False)
    assert sub.code == 0
    for command in ("list", "show", "verify", "export"):
        assert command in sub.stdout


async def test_version(cli: Cli) -> None:
    """--version prints the package version."""
    from crisiscast import __version__

    result = await cli.run("--version", with_config=False)
    assert (result.code, result.stdout.strip()) == (0, f"crisiscast {__version__}")


async def test_broken_message_file_is_one_sentence_and_exit_2(cli: Cli) -> None:
    """A broken message file: exit 2, the exact sentence on stderr, nothing on stdout."""
    path = EXAMPLES / "broken.yaml"
    for command in (["preview"], ["send", "--yes"]):
        result = await cli.run(*command, str(path))
        assert result.code == 2
        assert result.stderr.strip() == (
            f"The message file {path} has 'Excercise' in 'status', which is not allowed; "
            "use one of Actual, Exercise, Test."
        )
        assert result.stdout == ""
    assert cli.sandbox.fakes["twilio"].requests == []


async def test_missing_message_file(cli: Cli) -> None:
    """A message path that does not exist is named plainly."""
    result = await cli.run("send", "no-such-message.yaml", "--yes")
    assert result.code == 2
    assert result.stderr.strip() == "The message file no-such-message.yaml does not exist; check the path."


async def test_missing_config_file_is_one_sentence_and_exit_2(cli: Cli) -> None:
    """--config naming a missing file: exit 2 and the exact sentence."""
    result = await cli.run(
        "--config", "missing.toml", "preview", str(EXAMPLES / "exercise.yaml"), with_config=False
    )
    assert result.code == 2
    assert result.stderr.strip() == (
        "Cannot read the configuration file missing.toml: No such file or directory. "
        "Pass --config with an existing file."
    )


async def test_invalid_config_value(cli: Cli) -> None:
    """A wrong value in the configuration names the dotted key, exit 2."""
    cli.config.write_text("[channels.sms]\nmax_concurrency = 0\n", encoding="utf-8")
    result = await cli.run("preview", str(EXAMPLES / "exercise.yaml"))
    assert result.code == 2
    assert result.stderr.startswith(
        f"The configuration {cli.config} is invalid: channels.sms.max_concurrency: "
    )
    _no_traceback(result.stderr)


async def test_missing_secret_when_it_is_the_only_channel(cli: Cli) -> None:
    """SMS only, no Twilio token: nothing is sent, exit 2, the sentence names the variable."""
    message = cli.tmp_path / "sms-only.yaml"
    message.write_text(
        (EXAMPLES / "exercise.yaml").read_text(encoding="utf-8") + "channels: [sms]\n", encoding="utf-8"
    )
    result = await cli.run("send", str(message), "--yes", env={"CRISISCAST_TWILIO_AUTH_TOKEN": None})
    assert result.code == 2
    assert "CRISISCAST_TWILIO_AUTH_TOKEN" in result.stderr
    assert result.stderr.strip().startswith("Nothing was sent: no channel can take this message (sms: ")
    assert len(result.stderr.strip().splitlines()) == 1
    _no_traceback(result.stderr)
    assert cli.sandbox.fakes["twilio"].requests == []


async def test_missing_secret_skips_that_channel_and_says_so(cli: Cli) -> None:
    """Without the Facebook exercise token the others are sent and Facebook is reported skipped."""
    result = await cli.run(
        "send",
        str(EXAMPLES / "exercise.yaml"),
        "--yes",
        env={"CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN": None},
    )
    assert result.code == 0, result.stderr
    assert "SKIPPED" in result.stdout
    assert "CRISISCAST_FACEBOOK_EXERCISE_PAGE_TOKEN" in result.stdout
    assert cli.sandbox.fakes["graph"].requests == []
    assert any(r.method == "POST" for r in cli.sandbox.fakes["twilio"].requests)


async def test_debug_shows_the_traceback(cli: Cli) -> None:
    """--debug adds the traceback before the sentence; the sentence is still last."""
    path = EXAMPLES / "broken.yaml"
    result = await cli.run("--debug", "preview", str(path))
    assert result.code == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"The message file {path} has 'Excercise'")


async def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    """A mistyped command exits 2 with the usage hint."""
    result = await cli.run("sned", with_config=False)
    assert result.code == 2
    _no_traceback(result.stderr)
