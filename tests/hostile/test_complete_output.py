"""Output written to a pipe arrives whole: a large ``--json`` document is never cut short.

A pipe's write may take only part of the data (a non-blocking write end, or an interrupted
write after the event loop closed); with ``PYTHONUNBUFFERED=1`` Python then dropped the rest
and exited 0, so ``audit show ID --json | wc -c`` counted 65,536 of 187,964 bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from crisiscast.audit.sqlite import SqliteStore
from crisiscast.stdio import WholeWrites
from tests.audit.helpers import plan
from tests.cli.conftest import crisiscast_command

_HANG_GUARD_S = 120.0


def _read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into.extend(chunk)


def _nonblocking_pipe() -> tuple[int, int]:
    """A pipe whose write end is non-blocking, as a parent process may hand one to a child."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


def test_whole_writes_waits_for_a_full_nonblocking_pipe() -> None:
    """``WholeWrites.write`` writes every byte of a document four times the pipe's capacity."""
    read_fd, write_fd = _nonblocking_pipe()
    received = bytearray()
    reader = threading.Thread(target=_read_all, args=(read_fd, received))
    reader.start()
    document = bytes(range(256)) * 1024  # 256 KiB
    with WholeWrites(write_fd) as stream:
        assert stream.write(document) == len(document)
    os.close(write_fd)
    reader.join(_HANG_GUARD_S)
    os.close(read_fd)
    assert bytes(received) == document


async def _large_dispatch(db: Path) -> str:
    store = SqliteStore(str(db))
    await store.open()
    try:
        events, _ = plan("d-large-json", 700)
        await store.append(events)
    finally:
        await store.close()
    return "d-large-json"


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_audit_show_json_arrives_whole_through_a_nonblocking_pipe(tmp_path: Path, unbuffered: str) -> None:
    """``audit show ID --json`` piped through a non-blocking pipe, with and without
    ``PYTHONUNBUFFERED``, delivers the whole document (well over 64 KiB) and exits 0."""
    db = tmp_path / "audit.db"
    dispatch_id = asyncio.run(_large_dispatch(db))
    config = tmp_path / "crisiscast.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISISCAST_", "PYTHONUNBUFFERED"))}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    read_fd, write_fd = _nonblocking_pipe()
    received = bytearray()
    reader = threading.Thread(target=_read_all, args=(read_fd, received))
    reader.start()
    try:
        child = subprocess.run(
            [*crisiscast_command(), "--config", str(config), "audit", "show", dispatch_id, "--json"],
            stdout=write_fd,
            stderr=subprocess.PIPE,
            env=env,
            timeout=_HANG_GUARD_S,
            check=False,
        )
    finally:
        os.close(write_fd)
        reader.join(_HANG_GUARD_S)
        os.close(read_fd)
    assert child.returncode == 0, child.stderr.decode()
    assert len(received) > 3 * 65536
    document = json.loads(received)
    assert len(document["deliveries"]) == 700
