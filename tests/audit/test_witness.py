"""Checkpoints leave the machine: the periodic checkpoint, an HTTP witness, the MQTT broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.audit.checkpoint import Checkpoint, read_checkpoints
from crisiscast.audit.checkpointer import CheckpointingStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.open import open_store
from crisiscast.audit.signing import generate_key
from crisiscast.audit.witness import FileWitness, HttpWitness, MqttWitness, witness_from_url
from crisiscast.errors import ConfigError

from .helpers import ev, plan


class _Collector:
    """A witness server on 127.0.0.1: keeps every checkpoint POSTed to /checkpoints."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.arrived.set()
        return web.json_response({"ok": True}, status=201)


@pytest.fixture
async def collector() -> AsyncIterator[tuple[_Collector, str]]:
    seen = _Collector()
    app = web.Application()
    app.router.add_post("/checkpoints", seen.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield seen, f"http://127.0.0.1:{port}/checkpoints"
    finally:
        await runner.cleanup()


def _store(tmp_path: Path) -> AuditStore:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


async def test_events_without_a_plan_are_checkpointed_within_the_interval(tmp_path: Path) -> None:
    """Delivery events alone (no plan or end) get one checkpoint from the timer, covering them all."""
    events, deliveries = plan("w-1", 5)
    store = CheckpointingStore(
        _store(tmp_path),
        generate_key(tmp_path / "k"),
        [FileWitness(tmp_path / "cp.jsonl")],
        checkpoint_every_s=0.05,
    )
    await store.open()
    try:
        await store.append(events)
        store.checkpointed.clear()
        for d in deliveries:
            await store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1)])
        await asyncio.wait_for(store.checkpointed.wait(), 10)
        assert read_checkpoints(tmp_path / "cp.jsonl")[-1].seq == len(events) + len(deliveries)
        assert store.signed == 2
    finally:
        await store.close()


async def test_an_http_witness_receives_each_signed_checkpoint(
    tmp_path: Path, collector: tuple[_Collector, str]
) -> None:
    """Each checkpoint is POSTed as JSON to the witness URL, signature and all."""
    seen, url = collector
    key = generate_key(tmp_path / "k")
    store = CheckpointingStore(_store(tmp_path), key, [FileWitness(tmp_path / "cp.jsonl"), HttpWitness(url)])
    await store.open()
    try:
        await store.append(plan("w-2", 2)[0])
        await asyncio.wait_for(seen.arrived.wait(), 10)
    finally:
        await store.close()
    got = Checkpoint.from_json(seen.received[0])
    assert got.signed_by(key.public_key()) and got.seq == 5
    assert got == read_checkpoints(tmp_path / "cp.jsonl")[0]


async def test_a_witness_that_is_down_never_stops_appending(tmp_path: Path) -> None:
    """An HTTP witness nobody listens on: appends and the checkpoint file go on as usual."""
    store = CheckpointingStore(
        _store(tmp_path),
        generate_key(tmp_path / "k"),
        [FileWitness(tmp_path / "cp.jsonl"), HttpWitness("http://127.0.0.1:9/none")],
    )
    await store.open()
    try:
        await store.append(plan("w-3", 2)[0])
    finally:
        await store.close()
    assert read_checkpoints(tmp_path / "cp.jsonl")[0].seq == 5


async def test_the_broker_keeps_the_newest_checkpoint_retained(tmp_path: Path, mqtt_url: str) -> None:
    """The MQTT witness publishes retained per store id; a new reader gets the newest checkpoint."""
    topic = f"crisiscast-test/{tmp_path.name}/checkpoint"
    witness = MqttWitness(f"{mqtt_url}/{topic}")
    key = generate_key(tmp_path / "k")
    store = CheckpointingStore(_store(tmp_path), key, [FileWitness(tmp_path / "cp.jsonl"), witness])
    await store.open()
    try:
        events, deliveries = plan("w-4", 2)
        await store.append(events)
        await store.append([ev(EventKind.ATTEMPT_STARTED, d, attempt=1) for d in deliveries])
        head = await store.head()
    finally:
        await store.close()  # the last checkpoint, and the background publishes, are done
    try:
        [held] = await witness.read(head.store_id)
        assert held.seq == head.seq and held.signed_by(key.public_key())
    finally:
        import aiomqtt

        async with aiomqtt.Client(hostname=witness.host, port=witness.port) as client:
            await client.publish(f"{topic}/{head.store_id}", b"", retain=True)


def test_witness_urls_name_a_supported_scheme() -> None:
    """Only http(s) and mqtt witnesses; anything else is one sentence saying which to use."""
    assert isinstance(witness_from_url("https://witness.example/cp"), HttpWitness)
    assert isinstance(witness_from_url("mqtt://broker:1883/t"), MqttWitness)
    with pytest.raises(ConfigError, match="not supported"):
        witness_from_url("ftp://x/y")
