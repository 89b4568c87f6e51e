"""Ctrl-C on ``status --watch`` and ``rollcall --watch`` stops the view only, and says so.

The commander stops watching with Ctrl-C. The command says in one sentence that this does not
stop or change the broadcast (or the roll-call), names the command to look again, and exits 0.
Without ``--watch`` an interrupt is not dressed up as a normal stop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer
from typer.testing import CliRunner

from crisiscast.cli import common as cli_common
from crisiscast.cli import rollcall_cmd, status_cmd

DISPATCH = "20261204-120000-abcdef"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """``status`` and ``rollcall`` on a configuration in ``tmp_path``; logging put back after."""
    config = tmp_path / "crisiscast.toml"
    config.write_text(
        f'base_dir = "{tmp_path}"\n[store]\nurl = "sqlite:///{tmp_path / "audit.db"}"\n', encoding="utf-8"
    )
    monkeypatch.setenv("CRISISCAST_CONFIG", str(config))
    monkeypatch.setattr(cli_common, "_OPTIONS", cli_common.Options())
    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level = list(root.handlers), root.level
    commands = typer.Typer()
    status_cmd.register(commands)
    rollcall_cmd.register(commands)
    try:
        yield commands
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def _ctrl_c(*_: Any, **__: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("command", "module", "what"),
    [
        ("status", status_cmd, "the broadcast"),
        ("rollcall", rollcall_cmd, "the roll-call or its escalation"),
    ],
)
def test_ctrl_c_stops_only_the_watching(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch, command: str, module: Any, what: str
) -> None:
    monkeypatch.setattr(module, "run_async", _ctrl_c)
    result = CliRunner().invoke(app, [command, DISPATCH, "--watch"])
    assert result.exit_code == 0, (result.output, result.exception)
    expected = (
        f"Stopped watching; this does not stop or change {what}. "
        f"Look again with crisiscast {command} {DISPATCH}."
    )
    assert expected in " ".join(result.output.split())
    once = CliRunner().invoke(app, [command, DISPATCH])
    assert once.exit_code != 0 and "Stopped watching" not in once.output
