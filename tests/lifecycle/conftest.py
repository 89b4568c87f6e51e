"""The lifecycle suite: the real console script against the sandbox fakes, as several people.

``Team.run(person, *args)`` runs ``crisiscast`` with ``CRISISCAST_OPERATOR=person`` (the
identity recorded as author, approver and sender) on an OS account the policy lists as a
shared console account. The configuration is the CLI suite's
sandbox configuration; tests that need signage enable MQTT on the real Mosquitto under a
topic prefix of their own.
"""

from __future__ import annotations

import asyncio
import tomllib
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest

from crisiscast.audit.base import DeliveryRecord
from crisiscast.audit.events import StoredEvent
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.cli.demo_run import _channel_overrides, to_toml
from crisiscast.config import default_config_text, load_settings
from crisiscast.lifecycle.identity import os_account
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from tests.cli.conftest import ROOT, Cli, CliResult
from tests.sandbox_urls import lift_pacing, point_at_sandbox

WAIT_S = 10.0
STAFF = ("+16175550101", "+16175550102", "+16175550199")  # the last one has opted out (Twilio 21610)
DRILL_TEAM = ("+16175550126", "+16175550127")
CONTACTS = """\
name,phone,groups,language
Sofia Park,+1 617 555 0126,drill-team,en
Miguel Soto,+1 617 555 0127,drill-team,es
Avery Chen,+1 617 555 0101,staff,en
Marisol Vega,+1 617 555 0102,staff,es
Sam Optout,+1 617 555 0199,staff,en
"""


def sandbox_config(
    tmp_path: Path,
    sandbox: Sandbox,
    *,
    policy: Mapping[str, Any] | None = None,
    **sections: Mapping[str, Any],
) -> dict[str, Any]:
    """The shipped defaults pointing at the running fakes, with files in ``tmp_path`` (MQTT off)."""
    raw: dict[str, Any] = tomllib.loads(default_config_text())
    raw["templates_dir"] = str(ROOT / "config" / "templates")
    raw["store"]["url"] = f"sqlite:///{tmp_path / 'audit.db'}"
    raw["policy"].update(policy or {})
    channels = raw["channels"]
    for name, files in _channel_overrides(tmp_path).items():  # every channel's files here
        channels.setdefault(name, {}).update(files)
    point_at_sandbox(channels, sandbox)
    channels["sms"]["contacts"] = str(tmp_path / "contacts.csv")
    channels["banner"].update(
        path=str(tmp_path / "banner.json"), exercise_path=str(tmp_path / "banner-exercise.json")
    )
    channels["mqtt"]["enabled"] = False
    # calls have their own tests; here they are off (and pointed at the fake) unless a test turns them on
    channels["voice"].update(
        enabled=False, contacts=str(tmp_path / "contacts.csv")
    )
    lift_pacing(channels)  # Bluesky's and Mastodon's 1/s would pace every thread
    for name, values in sections.items():
        channels[name].update(values)
    return raw


class Team(Cli):
    """The console script, run by a named person."""

    def __init__(self, tmp_path: Path, sandbox: Sandbox) -> None:
        self.policy: dict[str, Any] = {}
        super().__init__(tmp_path, sandbox)

    def write_config(self, **sections: Mapping[str, Any]) -> None:
        """The CLI suite's sandbox configuration, the shipped templates, and ``self.policy``.

        The test account is a shared console account (``shared_console_accounts``), so each
        person is named by ``CRISISCAST_OPERATOR``, as at a shared ops desk.
        """
        self.contacts.write_text(CONTACTS, encoding="utf-8")
        policy = {"shared_console_accounts": [os_account()[0]], **self.policy}
        raw = sandbox_config(self.tmp_path, self.sandbox, policy=policy, **sections)
        self.config.write_text(to_toml(raw), encoding="utf-8")
        load_settings(self.config)

    async def run_as(self, person: str, *args: str, stdin: str | None = None) -> CliResult:
        return await self.run(*args, stdin=stdin, env={"CRISISCAST_OPERATOR": person})

    async def events(self, dispatch_id: str) -> list[StoredEvent]:
        store = SqliteStore(str(self.audit_db))
        await store.open()
        try:
            return [e async for e in store.events(dispatch_id)]
        finally:
            await store.close()

    async def deliveries(self, dispatch_id: str) -> list[DeliveryRecord]:
        store = SqliteStore(str(self.audit_db))
        await store.open()
        try:
            return await store.deliveries(dispatch_id)
        finally:
            await store.close()

    def posts(self, role: str) -> list[dict[str, Any]]:
        fake: Any = self.sandbox.fakes[role]
        return list(fake.posts)

    def texts(self) -> list[dict[str, Any]]:
        fake: Any = self.sandbox.fakes["twilio"]
        return list(fake.messages())


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    settings = load_settings(ROOT / "config" / "crisiscast.toml")
    sandbox = await start_sandbox(settings)
    try:
        yield Team(tmp_path, sandbox)
    finally:
        await sandbox.stop()


@pytest.fixture
def mqtt_prefix() -> str:
    return f"crisiscast-test/lifecycle-{uuid.uuid4().hex}"


async def read_retained(url: str, topic: str) -> list[aiomqtt.Message]:
    """The retained messages a new subscriber gets for ``topic``.

    After subscribing, the reader publishes a marker on its own topic: the broker handles one
    connection's packets in order, so everything retained arrives before the marker.
    """
    parts = urlsplit(url)
    marker = f"{topic}/reader-marker-{uuid.uuid4().hex}"
    got: list[aiomqtt.Message] = []
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1", parts.port or 1883, protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(WAIT_S):
            async for message in client.messages:
                if message.topic.value == marker:
                    return got
                got.append(message)
    return got
