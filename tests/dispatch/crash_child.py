"""A dispatch run in a child process, for crash tests.

``python -m tests.dispatch.crash_child DB LOG N [CHUNK]``: DB is an SQLite file or a store URL,
CHUNK the plan chunk size (default 1000).

The "provider" is ``FileChannel``: it accepts a delivery by appending ``key provider_id`` to
LOG (one ``os.write`` on an O_APPEND descriptor, so it survives a SIGKILL of this process),
and reconciles by reading LOG. Arm a failpoint with ``CRISISCAST_FAILPOINTS`` to crash it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from crisiscast.audit.open import open_store
from crisiscast.channels.base import BaseChannel, ChannelLimits, RenderContext
from crisiscast.delivery import Delivery, Receipt
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.message import CrisisMessage, Severity, Status


@dataclass
class FileChannel(BaseChannel):
    """A provider whose accepted messages are lines in a file (shared with the test process)."""

    log_path: str
    targets: tuple[str, ...] = ()
    limits: ChannelLimits = field(default_factory=lambda: ChannelLimits(max_concurrency=4))
    account: str = "file:acct"
    name: ClassVar[str] = "sms"
    public: ClassVar[bool] = False

    def render(self, message: CrisisMessage, ctx: RenderContext) -> list[Delivery]:
        return [Delivery(ctx.dispatch_id, "sms", t, 0, message.headline) for t in self.targets]

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        provider_id = f"SM{os.getpid()}-{delivery.target}"
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{delivery.key} {provider_id}\n".encode())
        finally:
            os.close(fd)
        await asyncio.sleep(0)
        return Receipt(provider_id=provider_id)

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        return self.accepted().get(delivery.key)

    def accepted(self) -> dict[str, Receipt]:
        try:
            with open(self.log_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return {}
        return {key: Receipt(provider_id=pid) for key, pid in (line.split(" ") for line in lines)}


def targets(n: int) -> tuple[str, ...]:
    return tuple(f"+1555{i:07d}" for i in range(n))


async def main(db: str, log_path: str, n: int, plan_chunk_size: int = 1000) -> None:
    store = open_store(db if "://" in db else f"sqlite:///{db}")
    await store.open()
    try:
        message = CrisisMessage(status=Status.ACTUAL, severity=Severity.SEVERE, headline="Crash test")
        channel = FileChannel(log_path=log_path, targets=targets(n))
        await Dispatcher(store, limiters=LimiterRegistry(), plan_chunk_size=plan_chunk_size).dispatch(
            message, [channel], approval={"approver": "test"}
        )
    finally:
        await store.close()



ROOT = Path(__file__).resolve().parents[2]


async def run_until_killed(
    store: str, log: Path, n: int, failpoints: str, chunk_size: int | None = None
) -> None:
    """Run this module as a child dispatching to ``n`` targets with ``failpoints`` armed, and
    check it died by SIGKILL (a failpoint's kill -9)."""
    args = [str(store), str(log), str(n), *([] if chunk_size is None else [str(chunk_size)])]
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.dispatch.crash_child", *args),
        cwd=ROOT,
        env={**os.environ, "CRISISCAST_FAILPOINTS": failpoints},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *(int(a) for a in sys.argv[4:5])))
