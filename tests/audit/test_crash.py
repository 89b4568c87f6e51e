"""Crash safety of a commit: SIGKILL inside a batch commit loses that batch whole, nothing else."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from crisiscast.audit.events import AuditEvent, EventKind

from .conftest import Backend

_SCRIPT = """
import asyncio, sys
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.open import open_store

async def main():
    store = open_store(sys.argv[1])
    await store.open()
    for n in range(3):
        await store.append([AuditEvent(EventKind.DRAFT_CREATED, f"crash-{n}", {"message": {"n": n}}),
                            AuditEvent(EventKind.APPROVAL_RECORDED, f"crash-{n}", {"approver": "a"})])
        print("committed", n, flush=True)
    await store.close()

asyncio.run(main())
"""


async def test_kill_inside_batch_commit_rolls_back_that_batch_only(backend: Backend) -> None:
    """Killed at the 2nd commit: the 1st batch is durable, the 2nd absent, and the chain continues intact."""
    env = {**os.environ, "CRISISCAST_FAILPOINTS": "inside_batch_commit:2"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SCRIPT, backend.url, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert out.decode().split("\n")[:-1] == ["committed 0"]
    store = backend.make_store()
    await store.open()
    try:
        kinds = [(e.event.dispatch_id, e.event.kind) async for e in store.events()]
        await store.append([AuditEvent(EventKind.DRAFT_CREATED, "after", {"message": {}})])
        result = await store.verify()
    finally:
        await store.close()
    assert kinds == [("crash-0", EventKind.DRAFT_CREATED), ("crash-0", EventKind.APPROVAL_RECORDED)]
    assert result.ok and result.events_checked == 3
