"""The floor's requests: crisiscast's recorded requests replayed with bare aiohttp.

Shared by ``bench/fanout.py`` (in-process floor) and ``bench/_floor_child.py`` (the floor as
its own process). Imports only asyncio, json and aiohttp, so the child process stays bare.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "user-agent", "accept"}


class Replayer:
    """Replays ``captured`` (requests per fake role) against ``urls``; ``statuses`` collects
    every answer of 300 or more."""

    def __init__(
        self, urls: dict[str, str], captured: dict[str, list[dict[str, Any]]], concurrency: int
    ) -> None:
        self.urls = urls
        self.captured = captured
        self.concurrency = concurrency
        self.statuses: list[int] = []

    async def one(self, session: aiohttp.ClientSession, role: str, r: dict[str, Any]) -> str | None:
        """One recorded request; the id of the post it made (X's ``data.id``), if any."""
        headers = {k: v for k, v in r["headers"].items() if k.lower() not in HOP_HEADERS}
        async with session.request(
            r["method"],
            self.urls[role] + r["path"],
            params=r["query"] or None,
            data=r["body"].encode(),
            headers=headers,
        ) as resp:
            payload = json.loads(await resp.read())
            if resp.status >= 300:
                self.statuses.append(resp.status)
        data = payload.get("data") if isinstance(payload, dict) else None
        return str(data["id"]) if isinstance(data, dict) and "id" in data else None

    async def in_order(self, session: aiohttp.ClientSession, role: str) -> None:
        """A role's requests one after another (a thread part replies to the post just made)."""
        previous_id: str | None = None
        for recorded in self.captured.get(role, []):
            r = recorded
            if previous_id is not None and '"in_reply_to_tweet_id"' in r["body"]:
                body = json.loads(r["body"])
                body["reply"]["in_reply_to_tweet_id"] = previous_id
                r = {**r, "body": json.dumps(body)}
            previous_id = await self.one(session, role, r)

    async def sms(self, session: aiohttp.ClientSession) -> None:
        """The texts, ``concurrency`` at a time."""
        sem = asyncio.Semaphore(self.concurrency)

        async def limited(r: dict[str, Any]) -> None:
            async with sem:
                await self.one(session, "twilio", r)

        await asyncio.gather(*(limited(r) for r in self.captured.get("twilio", [])))

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency + 10))
