"""The chaos world: sandbox fakes in THIS process, the ``crisiscast`` CLI as a killable subprocess.

The fakes (X drills account, Graph API, Twilio) run on free ports of 127.0.0.1 inside the
test process, so their request logs and provider state survive every crash of the CLI. A
``Tracker`` middleware on each fake counts requests as they arrive (to SIGKILL the CLI after
a chosen number of them), knows how many are still being handled (``idle``), and when the
first one after a restart arrived. Nothing here sleeps: waits are on events, with bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import tomllib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp import web

from crisiscast.channels.registry import names
from crisiscast.cli.demo_run import to_toml
from crisiscast.config import default_config_text, load_settings
from crisiscast.sandbox.common import FakeProvider, RecordedRequest
from crisiscast.sandbox.graph import FakeGraph
from crisiscast.sandbox.graph import sandbox_env as graph_env
from crisiscast.sandbox.twilio import FakeTwilio, twilio_error
from crisiscast.sandbox.twilio import sandbox_env as twilio_env
from crisiscast.sandbox.x import FakeX
from crisiscast.sandbox.x import sandbox_env as x_env

__all__ = [
    "CliRun",
    "ListDownTwilio",
    "Tracker",
    "World",
    "crisiscast_command",
    "drop_schema",
    "exercise_message_yaml",
    "pg_schema_url",
    "retained",
    "sms_contacts",
]

RUN_TIMEOUT_S = 60.0
IDLE_TIMEOUT_S = 10.0


TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"


def crisiscast_command() -> list[str]:
    return [sys.executable, "-m", "crisiscast"]


def sms_contacts(count: int) -> str:
    """A contacts CSV of ``count`` drill-team members with distinct valid numbers."""
    lines = ["name,phone,groups,language"]
    for i in range(count):
        lang = "es" if i % 5 == 0 else "en"
        lines.append(f"Drill {i},+1617555{1000 + i:04d},drill-team,{lang}")
    return "\n".join(lines) + "\n"


def exercise_message_yaml() -> str:
    return (
        "status: Exercise\n"
        "msg_type: Alert\n"
        "sender: emergency-planning@st-example-hospital.org\n"
        "event: Evacuation drill\n"
        "severity: Moderate\n"
        "urgency: Expected\n"
        "certainty: Likely\n"
        "language: en\n"
        f'headline: "Chaos drill {uuid.uuid4().hex[:8]}: evacuate Building A"\n'
        "instruction: Drill team to assembly point 2 now.\n"
        "description: A planned drill of the alerting system. No patients are moved.\n"
        "web: https://www.st-example-hospital.org/drills\n"
        "audiences: [exercise]\n"
    )


class ListDownTwilio(FakeTwilio):
    """Twilio that refuses to list messages (403, e.g. a restricted API key that may only send):
    in-doubt SMS cannot be reconciled, so the in-doubt policy decides."""

    async def _list(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        return web.json_response(twilio_error(20403, "Forbidden", status=403), status=403)


class Tracker:
    """Counts requests at the fakes; kills a process after the n-th; knows when they are idle."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.posts = 0
        self.first_after: float | None = None  # monotonic arrival of the first request after mark()
        self._mark_s: float | None = None
        self._kill_at: int | None = None
        self._kill_pid: int | None = None
        self._kill_signal: int = signal.SIGKILL
        self.killed = asyncio.Event()

    def mark(self) -> None:
        """From now on, remember the first request's arrival time."""
        self._mark_s = time.monotonic()
        self.first_after = None

    def kill_after(self, pid: int, posts: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL; SIGINT is Ctrl-C) to ``pid`` when ``posts`` more provider POSTs
        have arrived."""
        self._kill_pid = pid
        self._kill_at = self.posts + posts
        self._kill_signal = sig
        self.killed.clear()

    def disarm(self) -> None:
        self._kill_pid = None
        self._kill_at = None

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/_sandbox"):
            return await handler(request)
        now = time.monotonic()
        if self._mark_s is not None and self.first_after is None:
            self.first_after = now
        self.in_flight += 1
        self.idle.clear()
        try:
            if request.method == "POST":
                self.posts += 1
                if self._kill_at is not None and self.posts >= self._kill_at and self._kill_pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self._kill_pid, self._kill_signal)
                    self.killed.set()
                    self.disarm()
            return await handler(request)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()


@dataclass
class CliRun:
    """One CLI process: exit code (-9 when SIGKILLed), output, and when it was started."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    started_s: float
    failpoints: str | None = None

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


@dataclass
class World:
    """Fakes + a configuration in ``tmp``; ``await world.run("send", ...)`` runs the CLI."""

    tmp: Path
    store_url: str
    mqtt_url: str
    sms_count: int
    latency_s: float = 0.02
    random_kills: int = 3
    backend: str = "sqlite"
    twilio_list_down: bool = False
    tracker: Tracker = field(default_factory=Tracker)
    fakes: dict[str, FakeProvider] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"crisiscast-chaos/{uuid.uuid4().hex}")

    async def start(self) -> None:
        self.fakes = {
            "x": FakeX(exercise=True),
            "graph": FakeGraph(),
            "twilio": (ListDownTwilio if self.twilio_list_down else FakeTwilio)(status_callbacks=False),
        }
        for fake in self.fakes.values():
            fake.app.middlewares.append(self.tracker.middleware)
            fake.faults.latency_s = self.latency_s
            await fake.start()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISCAST_")}
        self.env.update(x_env(exercise=True))
        self.env.update(graph_env())
        self.env.update(twilio_env())
        self.env.pop("COLUMNS", None)
        self.contacts.write_text(sms_contacts(self.sms_count), encoding="utf-8")
        self.message.write_text(exercise_message_yaml(), encoding="utf-8")
        self.write_config()

    async def stop(self) -> None:
        for fake in self.fakes.values():
            await fake.stop()

    @property
    def twilio(self) -> FakeTwilio:
        fake = self.fakes["twilio"]
        assert isinstance(fake, FakeTwilio)
        return fake

    @property
    def x(self) -> FakeX:
        fake = self.fakes["x"]
        assert isinstance(fake, FakeX)
        return fake

    @property
    def graph(self) -> FakeGraph:
        fake = self.fakes["graph"]
        assert isinstance(fake, FakeGraph)
        return fake

    @property
    def config(self) -> Path:
        return self.tmp / "crisiscast.toml"

    @property
    def contacts(self) -> Path:
        return self.tmp / "contacts.csv"

    @property
    def message(self) -> Path:
        return self.tmp / "message.yaml"

    @property
    def banner_exercise(self) -> Path:
        return self.tmp / "banner-exercise.json"

    @property
    def exercise_topic_prefix(self) -> str:
        return f"{self.prefix}/exercise"

    def write_config(self, **extra: Mapping[str, Any]) -> None:
        raw: dict[str, Any] = tomllib.loads(default_config_text())
        raw["store"]["url"] = self.store_url
        raw["templates_dir"] = str(TEMPLATES_DIR)  # the shipped templates, for template sends
        raw["policy"]["in_doubt_policy"] = "severe_resend"
        ch = raw["channels"]
        for name in names():  # this world runs X, the Graph API, Twilio, the banner and MQTT only
            if name not in ("twitter", "facebook", "sms", "banner", "mqtt"):
                ch[name]["enabled"] = False
        x_url = self.fakes["x"].base_url
        ch["twitter"].update(api_base_url="http://127.0.0.1:9", exercise_api_base_url=x_url)
        ch["twitter"].update(max_requests_per_s=50.0, burst=5)
        ch["facebook"]["graph_base_url"] = self.fakes["graph"].base_url
        ch["sms"].update(
            api_base_url=self.fakes["twilio"].base_url,
            contacts=str(self.contacts),
            max_concurrency=50,
            max_requests_per_s=5000.0,
            burst=100,
        )
        ch["banner"].update(path=str(self.tmp / "banner.json"), exercise_path=str(self.banner_exercise))
        ch["mqtt"].update(
            url=self.mqtt_url,
            topic_prefix=f"{self.prefix}/production",
            exercise_topic_prefix=self.exercise_topic_prefix,
            request_timeout_s=5.0,
        )
        ch["voice"]["enabled"] = False  # calls have their own tests (no fake for them runs here)
        for name, values in extra.items():
            ch[name].update(values)
        self.config.write_text(to_toml(raw), encoding="utf-8")
        load_settings(self.config)

    async def run(
        self,
        *args: str,
        failpoints: str | None = None,
        kill_after_posts: int | None = None,
        kill_signal: int = signal.SIGKILL,
        extra_env: Mapping[str, str] | None = None,
    ) -> CliRun:
        """Run ``crisiscast --config … ARGS`` to its end (or its SIGKILL)."""
        env = dict(self.env)
        if failpoints:
            env["CRISISCAST_FAILPOINTS"] = failpoints
        env.update(extra_env or {})
        self.tracker.mark()
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *crisiscast_command(),
            "--config",
            str(self.config),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.tmp,
        )
        if kill_after_posts is not None:
            self.tracker.kill_after(proc.pid, kill_after_posts, kill_signal)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        finally:
            self.tracker.disarm()
        # In-flight requests of a killed process still finish at the provider (as they would at
        # Twilio or X); wait for the fakes to settle so the next run sees the provider's state.
        await asyncio.wait_for(self.tracker.idle.wait(), IDLE_TIMEOUT_S)
        assert proc.returncode is not None
        return CliRun(
            tuple(args), proc.returncode, out.decode(), err.decode(), started, failpoints=failpoints
        )

    def posts(self, role: str) -> list[RecordedRequest]:
        """The POSTs a fake received (sends; reconciles are GETs)."""
        return [r for r in self.fakes[role].requests if r.method == "POST"]

    def requests_since(self, started_s: float) -> Sequence[RecordedRequest]:
        return sorted(
            (r for f in self.fakes.values() for r in f.requests if r.at_s >= started_s), key=lambda r: r.at_s
        )


async def pg_schema_url(base_url: str) -> tuple[str, str]:
    """A fresh schema on the test server and a store URL that selects it (``search_path``)."""
    import asyncpg

    schema = f"chaos_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}search_path={schema}", schema


async def drop_schema(base_url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def retained(url: str, topic: str) -> list[bytes]:
    """The retained payloads a new subscriber gets (a marker on our own topic ends the wait)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    marker = f"{topic}/marker-{uuid.uuid4().hex}"
    got: list[bytes] = []
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1", parts.port or 1883, protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if message.topic.value == marker:
                    return got
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                got.append(bytes(payload))
    return got
