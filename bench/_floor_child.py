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

import aiohttp

_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "user-agent", "accept"}


async def replay(spec: dict[str, Any]) -> None:
    urls: dict[str, str] = spec["urls"]
    captured: dict[str, list[dict[str, Any]]] = spec["captured"]

    async def one(session: aiohttp.ClientSession, role: str, r: dict[str, Any]) -> str | None:
        headers = {k: v for k, v in r["headers"].items() if k.lower() not in _HOP_HEADERS}
        async with session.request(
            r["method"],
            urls[role] + r["path"],
            params=r["query"] or None,
            data=r["body"].encode(),
            headers=headers,
        ) as resp:
            payload = json.loads(await resp.read())
        data = payload.get("data") if isinstance(payload, dict) else None
        return str(data["id"]) if isinstance(data, dict) and "id" in data else None

    async def in_order(session: aiohttp.ClientSession, role: str) -> None:
        previous_id: str | None = None
        for recorded in captured.get(role, []):
            r = recorded
            if previous_id is not None and '"in_reply_to_tweet_id"' in r["body"]:
                body = json.loads(r["body"])
                body["reply"]["in_reply_to_tweet_id"] = previous_id
                r = {**r, "body": json.dumps(body)}
            previous_id = await one(session, role, r)

    async def sms(session: aiohttp.ClientSession) -> None:
        sem = asyncio.Semaphore(spec["concurrency"])

        async def limited(r: dict[str, Any]) -> None:
            async with sem:
                await one(session, "twilio", r)

        await asyncio.gather(*(limited(r) for r in captured.get("twilio", [])))

    def write_banner() -> None:
        path = spec["banner_path"]
        tmp = path + ".floor.tmp"
        with open(tmp, "wb") as f:
            f.write(spec["banner"].encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    connector = aiohttp.TCPConnector(limit=spec["concurrency"] + 10)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(
            in_order(session, "x"), in_order(session, "graph"), sms(session), asyncio.to_thread(write_banner)
        )


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        asyncio.run(replay(json.load(f)))
