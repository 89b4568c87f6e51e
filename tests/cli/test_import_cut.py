"""A command imports only what it needs (issue 19): checked through the modules a real run
imports (``PYTHONPROFILEIMPORTTIME`` lists every one on stderr), never through timings.

- ``crisiscast --help`` imports no channel, HTTP client, SDK, server or configuration model;
- ``crisiscast send --server`` imports no pydantic, asyncio, HTTP client or channel either;
- ``crisiscast send`` of a message that no X post carries never imports ``twitter_text`` (its
  import compiles large patterns), nor the server;
- with an X post it does, and still without ``pkg_resources`` (its one resource read is
  answered by ``importlib.resources``);
- without an audit signing key (the default) a send never imports ``cryptography``;
- a second send of the same contacts file reads its parse from the cache and never imports
  ``phonenumbers``;
- the console script turns off pydantic's plugin search (it reads every installed package's
  entry points) unless the environment already says otherwise.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio

IMPORT_LIST = {"PYTHONPROFILEIMPORTTIME": "1"}


def _imported(stderr: str) -> set[str]:
    """Module names from the interpreter's ``import time: self | cumulative | name`` lines."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name)
    return names


def _any_of(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


async def test_help_imports_no_channel_client_or_server(cli: Cli) -> None:
    result = await cli.run("--help", env=IMPORT_LIST)
    assert result.code == 0, result.stderr[-2000:]
    modules = _imported(result.stderr)
    assert "crisiscast.cli" in modules  # the listing works
    heavy = (
        "twitter_text",
        "pkg_resources",
        "aiohttp",
        "twilio",
        "pydantic",
        "crisiscast.server",
        "crisiscast.channels",
        "crisiscast.config",
        "crisiscast.dispatch",
    )
    assert _any_of(modules, heavy) == []


async def test_send_through_a_server_imports_no_model_loop_client_or_channel(cli: Cli) -> None:
    """``send --server`` is a thin client (urllib): no pydantic (typer below 0.29 builds none of
    its parameter adapters), no asyncio, aiohttp, configuration model, channel or server."""
    result = await cli.run(
        *("send", "--template", "facility-fire", "--var", "location=Building A", "--yes"),
        *("--server", "http://127.0.0.1:9"),
        env={**IMPORT_LIST, "CRISISCAST_API_TOKEN": "t" * 40},
    )
    assert result.code == 2 and "did not answer" in result.stderr  # nothing listens on port 9
    modules = _imported(result.stderr)
    assert "crisiscast.cli.remote_send" in modules  # the listing works
    heavy = (
        "pydantic",
        "asyncio",
        "aiohttp",
        "twilio",
        "twitter_text",
        "crisiscast.config",
        "crisiscast.channels",
        "crisiscast.dispatch",
        "crisiscast.server",
    )
    assert _any_of(modules, heavy) == []


async def test_send_without_an_x_post_never_imports_twitter_text(cli: Cli) -> None:
    message = cli.tmp_path / "drill.yaml"
    text = (EXAMPLES / "exercise.yaml").read_text(encoding="utf-8")
    message.write_text(text + "channels: [sms, facebook, banner]\n", encoding="utf-8")
    result = await cli.run("send", str(message), "--yes", "--json", env=IMPORT_LIST)
    assert result.code == 0, result.stderr[-2000:]
    modules = _imported(result.stderr)
    assert "crisiscast.channels.sms.channel" in modules  # it did send
    assert (
        _any_of(modules, ("twitter_text", "pkg_resources", "crisiscast.server", "crisiscast.console")) == []
    )
    assert _any_of(modules, ("cryptography",)) == []  # no signing key configured


@pytest.mark.parametrize(("before", "after"), [(None, "__all__"), ("", ""), ("logfire", "logfire")])
async def test_main_turns_off_the_pydantic_plugin_search_unless_told(
    monkeypatch: pytest.MonkeyPatch, before: str | None, after: str
) -> None:
    from crisiscast.cli import main

    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if before is not None:
        environ["PYDANTIC_DISABLE_PLUGINS"] = before
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(sys, "argv", ["crisiscast", "--version"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert environ["PYDANTIC_DISABLE_PLUGINS"] == after


async def test_send_with_an_x_post_imports_twitter_text_without_pkg_resources(cli: Cli) -> None:
    message = cli.tmp_path / "drill.yaml"
    text = (EXAMPLES / "exercise.yaml").read_text(encoding="utf-8")
    message.write_text(text + "channels: [twitter, sms]\n", encoding="utf-8")
    result = await cli.run("send", str(message), "--yes", "--json", env=IMPORT_LIST)
    assert result.code == 0, result.stderr[-2000:]
    modules = _imported(result.stderr)
    assert "twitter_text" in modules
    assert _any_of(modules, ("pkg_resources", "crisiscast.server")) == []


async def test_a_second_send_reads_the_parsed_contacts_and_never_imports_phonenumbers(cli: Cli) -> None:
    message = cli.tmp_path / "drill.yaml"
    text = (EXAMPLES / "exercise.yaml").read_text(encoding="utf-8")
    message.write_text(text + "channels: [sms, banner]\n", encoding="utf-8")
    first = await cli.run("send", str(message), "--yes", "--json", env=IMPORT_LIST)
    assert first.code == 0, first.stderr[-2000:]
    assert "phonenumbers" in _imported(first.stderr)  # the file was parsed once
    cache = cli.tmp_path / "var" / "crisiscast" / "contacts-cache"
    (entry,) = cache.glob("*.contacts.json")
    assert entry.stat().st_mode & 0o077 == 0
    second = await cli.run("send", str(message), "--yes", "--json", env=IMPORT_LIST)
    assert second.code == 0, second.stderr[-2000:]
    modules = _imported(second.stderr)
    assert "crisiscast.channels.sms.channel" in modules  # it did send
    assert _any_of(modules, ("phonenumbers",)) == []
