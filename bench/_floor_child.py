"""The floor of ``bench/whole_command.py``: a bare aiohttp PROCESS making the same requests.

``python bench/_floor_child.py SPEC.json`` — the spec holds the fakes' URLs, the requests
crisiscast's run made (read back from the fakes' logs), the SMS concurrency, the banner path
and document. The process imports only asyncio and aiohttp, replays the X thread in order,
the Facebook post and the SMS under one ``asyncio.Semaphore`` on one ``ClientSession``, and
writes the banner file atomically with an fsync — no configuration, no audit, no preview.
The parent times it from before it starts to the last request's arrival at the fakes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from _replay import Replayer


async def replay(spec: dict[str, Any]) -> None:
    replayer = Replayer(spec["urls"], spec["captured"], spec["concurrency"])

    def write_banner() -> None:
        path = spec["banner_path"]
        tmp = path + ".floor.tmp"
        with open(tmp, "wb") as f:
            f.write(spec["banner"].encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    async with replayer.session() as session:
        await asyncio.gather(
            replayer.in_order(session, "x"),
            replayer.in_order(session, "graph"),
            replayer.sms(session),
            asyncio.to_thread(write_banner),
        )


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        asyncio.run(replay(json.load(f)))
