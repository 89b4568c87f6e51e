"""An audit file that is corrupt or not SQLite at all: one sentence, exit 2, and the process ends.

Before, the store's connection thread outlived the failed open, so every command printed its
error and then hung for ever (``serve`` too).
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.errors import StoreError
from tests.cli.conftest import crisiscast_command

# A guard against a hang, never a measure: a healthy run ends in well under a second.
_HANG_GUARD_S = 60.0


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    path.write_bytes(b"this is a note someone saved over the audit database\n" * 80)
    return path


def _config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "crisiscast.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    return config


async def test_opening_a_non_sqlite_file_leaves_no_thread_behind(tmp_path: Path) -> None:
    """``SqliteStore.open`` on a file that is not a database raises StoreError and every
    thread it started has ended, so nothing keeps the process alive."""
    before = {t.ident for t in threading.enumerate()}
    store = SqliteStore(str(_not_a_database(tmp_path)))
    with pytest.raises(StoreError, match="not a database"):
        await store.open()
    left = [
        t
        for t in threading.enumerate()
        if t.ident not in before and not t.daemon and not t.name.startswith("asyncio_")  # loop's pool
    ]
    for thread in left:  # a closed connection's thread ends by itself; one left open never does
        thread.join(_HANG_GUARD_S)
    assert [t.name for t in left if t.is_alive()] == []


@pytest.mark.parametrize("command", [["audit", "list"], ["audit", "verify"], ["serve", "--port", "0"]])
def test_commands_on_a_non_sqlite_audit_file_exit_2(tmp_path: Path, command: list[str]) -> None:
    """Every command, ``serve`` included, prints one sentence and exits 2 instead of hanging."""
    config = _config(tmp_path, _not_a_database(tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")}
    result = subprocess.run(
        [*crisiscast_command(), "--config", str(config), *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=_HANG_GUARD_S,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "not a database" in result.stderr
    assert "Traceback" not in result.stderr
