"""Where checkpoints are kept outside the database: the checkpoint file and witnesses.

- ``FileWitness``: the append-only JSONL checkpoint file (the default; ``[store]
  checkpoint_file``). Put it on another disk or host than the database, or make it
  append-only for the database's owner (``chattr +a``), and back it up with the logs.
- ``HttpWitness`` (``http://`` or ``https://`` in ``[store] witnesses``): each checkpoint is
  POSTed as JSON to the URL; a transparency log, a SIEM collector or a colleague's server.
- ``MqttWitness`` (``mqtt://host:port/topic``): each checkpoint is published, retained, to
  ``topic/<store_id>``, so the broker always holds the newest one and ``audit verify`` reads
  it back.

A witness that is down never stops a broadcast: publishing failures are logged
(``audit_witness_failed``) and the next checkpoint is sent as usual.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from crisiscast.audit.checkpoint import Checkpoint, append_checkpoint, read_checkpoints
from crisiscast.errors import ConfigError

__all__ = ["FileWitness", "HttpWitness", "MqttWitness", "Witness", "witness_from_url"]

_TIMEOUT_S = 5.0


class Witness(Protocol):
    """Somewhere a checkpoint is written (and, for some, read back)."""

    name: str

    async def publish(self, checkpoints: list[Checkpoint]) -> None: ...

    async def read(self, store_id: str) -> list[Checkpoint]:
        """The checkpoints this witness holds for ``store_id`` (may be only the newest)."""
        ...


class FileWitness:
    """The append-only checkpoint file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path}"

    async def publish(self, checkpoints: list[Checkpoint]) -> None:
        await asyncio.to_thread(append_checkpoint, self.path, checkpoints)

    async def read(self, store_id: str) -> list[Checkpoint]:
        return await asyncio.to_thread(read_checkpoints, self.path)


class HttpWitness:
    """POSTs each checkpoint (one JSON object) to a URL; reading back is the witness's own affair."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        self.name = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"

    async def publish(self, checkpoints: list[Checkpoint]) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for cp in checkpoints:
                async with session.post(self.url, json=cp.to_json()) as response:
                    response.raise_for_status()

    async def read(self, store_id: str) -> list[Checkpoint]:
        return []


class MqttWitness:
    """Publishes the newest checkpoint retained on ``<topic>/<store_id>``; reads it back."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.topic = parts.path.strip("/") or "crisiscast/audit/checkpoint"
        self.name = f"mqtt://{self.host}:{self.port}/{self.topic}"

    async def publish(self, checkpoints: list[Checkpoint]) -> None:
        import aiomqtt

        if not checkpoints:
            return
        newest = checkpoints[-1]
        async with aiomqtt.Client(hostname=self.host, port=self.port, timeout=_TIMEOUT_S) as client:
            await client.publish(
                f"{self.topic}/{newest.store_id}", newest.to_line().encode(), qos=1, retain=True
            )

    async def read(self, store_id: str) -> list[Checkpoint]:
        import aiomqtt

        async with aiomqtt.Client(hostname=self.host, port=self.port, timeout=_TIMEOUT_S) as client:
            await client.subscribe(f"{self.topic}/{store_id}", qos=1)
            try:
                async with asyncio.timeout(_TIMEOUT_S):
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            return [Checkpoint.from_json(json.loads(payload))]
                        return []
            except TimeoutError:  # no retained message: this witness holds nothing for the store
                return []
        return []


def witness_from_url(url: str) -> Witness:
    """The witness for ``url`` (http(s):// or mqtt://); ``ConfigError`` for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return HttpWitness(url)
    if scheme == "mqtt":  # not-a-channel: the witness's URL scheme
        return MqttWitness(url)
    raise ConfigError(
        f"The audit witness {scheme or url!r} is not supported; use http(s)://host/path or mqtt://host:port/topic."
    )
