"""The audit database, its WAL files, the log file and exports are created 0600 (0640 with a
configured group), whatever the umask would have allowed."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisiscast.audit.sqlite import SqliteStore
from tests.audit.helpers import plan
from tests.cli.conftest import crisiscast_command

_GUARD_S = 60.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask, under which a plain open() creates world-readable files."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
async def test_the_audit_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    """A new SQLite store's file, -wal and -shm are 0600 while it is written."""
    db = tmp_path / "audit.db"
    store = SqliteStore(str(db))
    await store.open()
    try:
        events, _ = plan("d-private", 3)
        await store.append(events)
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        await store.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_a_configured_group_gets_read_access(tmp_path: Path) -> None:
    """With file_group, the database is 0640 and belongs to that group."""
    group = grp.getgrgid(os.getgid()).gr_name
    db = tmp_path / "audit.db"
    store = SqliteStore(str(db), file_group=group)
    await store.open()
    await store.close()
    assert _mode(db) == 0o640
    assert db.stat().st_gid == os.getgid()


def test_log_file_and_export_are_owner_only(tmp_path: Path) -> None:
    """``--log-file`` and ``audit export --out`` create their files 0600 under umask 022, and the
    database the command opened too."""
    db, log, export = tmp_path / "audit.db", tmp_path / "crisiscast.log", tmp_path / "audit.jsonl"
    config = tmp_path / "crisiscast.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")}
    command = [*crisiscast_command(), "--config", str(config), "--log-file", str(log)]
    result = subprocess.run(
        [*command, "audit", "export", "--out", str(export)],
        capture_output=True,
        text=True,
        env=env,
        umask=0o022,
        timeout=_GUARD_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {p.name: _mode(p) for p in (db, log, export)} == {p.name: 0o600 for p in (db, log, export)}
