"""The end-to-end stage: all five channels against the sandbox, with a configuration in ``tmp_path``.

``open_stage(tmp_path, mqtt_url, ...)`` starts the sandbox fakes in this process on free
ports of 127.0.0.1 (``crisiscast.sandbox.runner.start_sandbox``: X and its drills account,
the Graph API, Twilio), writes a configuration that points every channel at them — banner
files in ``tmp_path``, MQTT on the real Mosquitto under a unique topic prefix, a SQLite
audit store in ``tmp_path``, a generated contacts CSV — and opens the audit store.

``Stage.broadcast(message)`` builds the channels through the registry (exactly as the CLI
does), and runs them through a real ``Dispatcher`` with a short back-off and a fresh limiter
registry, so retries take milliseconds and no state leaks between tests.

``RequestHooks`` scripts faults for chosen requests (e.g. the POST that carries a given
text) and runs callbacks as requests arrive (e.g. "recover after the 30th request"), all
from inside the fake's fault plan: event driven, nothing waits on a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from crisiscast.audit.base import AuditStore
from crisiscast.audit.open import open_store
from crisiscast.channels.base import Channel
from crisiscast.channels.mqtt.channel import alert_topic
from crisiscast.channels.registry import build_channels, spec_for
from crisiscast.cli.demo_run import to_toml
from crisiscast.config import Secrets, Settings, default_config_text, load_settings
from crisiscast.delivery import DispatchReport
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.dispatch.plan import Plan
from crisiscast.message import CrisisMessage
from crisiscast.sandbox.common import FakeProvider, Fault, FaultPlan, RecordedRequest
from crisiscast.sandbox.graph import FakeGraph
from crisiscast.sandbox.runner import Sandbox, start_sandbox
from crisiscast.sandbox.twilio import FakeTwilio
from crisiscast.sandbox.x import FakeX
from tests.mqtt_cleanup import clear_prefix
from tests.sandbox_urls import lift_pacing, point_at_sandbox

__all__ = [
    "BACKOFF_BASE_S",
    "CONFIG_NAME",
    "RequestHooks",
    "Stage",
    "contacts_csv",
    "drill_number",
    "open_stage",
    "staff_number",
]

CONFIG_NAME = "crisiscast.toml"  # the stage's configuration file in its directory (for the CLI)
BACKOFF_BASE_S = 0.02
BACKOFF_CAP_S = 0.25
MQTT_READ_TIMEOUT_S = 10.0


def staff_number(i: int) -> str:
    return f"+1617555{1000 + i:04d}"


def drill_number(i: int) -> str:
    return f"+1617555{3000 + i:04d}"


def contacts_csv(staff: int, drill: int, *, extra_staff: tuple[str, ...] = ()) -> str:
    """A contacts CSV: ``staff`` production recipients (every 4th Spanish), ``drill`` drill-team
    members, and ``extra_staff`` numbers (e.g. an opted-out one) in the staff group."""
    lines = ["name,phone,groups,language"]
    lines += [f"Staff {i},{staff_number(i)},staff,{'es' if i % 4 == 0 else 'en'}" for i in range(staff)]
    lines += [f"Drill {i},{drill_number(i)},drill-team,{'es' if i % 4 == 1 else 'en'}" for i in range(drill)]
    lines += [f"Extra {i},{number},staff,en" for i, number in enumerate(extra_staff)]
    return "\n".join(lines) + "\n"


@dataclass
class _Rule:
    matches: Callable[[RecordedRequest], bool]
    fault: Fault | Callable[[], Fault]  # a factory builds it when the request arrives (reset times)
    times: int


class RequestHooks(FaultPlan):
    """A ``FaultPlan`` that also sees each request before the fake answers it.

    The fake appends the ``RecordedRequest`` to its log and then, without yielding to the event
    loop, asks its plan for a fault: so ``log[-1]`` is the request being answered. Rules
    (``fault_when``) take precedence over the scripted queue and the random error share;
    ``on_request`` callbacks may reconfigure the plan (e.g. end an outage).
    """

    def __init__(
        self, log: list[RecordedRequest], *, error_rate: float = 0.0, seed: int | None = None
    ) -> None:
        super().__init__(error_rate=error_rate, seed=seed)
        self._log = log
        self._requests = 0
        self._rules: list[_Rule] = []
        self._callbacks: list[Callable[[RecordedRequest], None]] = []

    def fault_when(
        self,
        matches: Callable[[RecordedRequest], bool],
        fault: Fault | Callable[[], Fault],
        *,
        times: int = 1,
    ) -> None:
        """Answer the first ``times`` requests that ``matches`` with ``fault`` (or what a factory
        builds at that moment: provider reset headers are clock times)."""
        self._rules.append(_Rule(matches, fault, times))

    def on_request(self, callback: Callable[[RecordedRequest], None]) -> None:
        self._callbacks.append(callback)

    @property
    def unused_rules(self) -> int:
        return sum(1 for r in self._rules if r.times > 0)

    def next_fault(self, path: str) -> Fault | None:
        rec = self._log[-1]
        for callback in self._callbacks:
            callback(rec)
        for rule in self._rules:
            if rule.times > 0 and rule.matches(rec):
                rule.times -= 1
                fault = rule.fault if isinstance(rule.fault, Fault) else rule.fault()
                return replace(fault, headers=dict(fault.headers), times=1)
        rate, self.error_rate = self.error_rate, 0.0  # the scripted queue only
        try:
            scripted = super().next_fault(path)
        finally:
            self.error_rate = rate
        if scripted is None and rate and self._share_due(rate):
            return Fault(status=self.error_status, headers=dict(self.error_headers))
        return scripted

    def _share_due(self, rate: float) -> bool:
        """Exactly ``rate`` of this fake's requests fail, spread evenly (at 20 %: one request in
        five, counted from an offset the seed picks), not drawn at random: concurrent senders
        reach the fake in a different order each run, and with random draws the share itself —
        and so R1's requests/targets figure — would differ from run to run (±0.04 at 200 texts)."""
        self._requests += 1
        n = self._requests + (self.seed or 0) % 5
        return math.floor(n * rate) > math.floor((n - 1) * rate)


def hook(fake: FakeProvider, *, error_rate: float = 0.0, seed: int | None = None) -> RequestHooks:
    """Give ``fake`` a ``RequestHooks`` plan (its latency kept) and return it."""
    plan = RequestHooks(fake.requests, error_rate=error_rate, seed=seed)
    plan.latency_s = fake.faults.latency_s
    fake.faults = plan
    return plan


@dataclass
class Stage:
    """Everything a test needs: the fakes, the settings, secrets, the audit store, the numbers."""

    tmp: Path
    mqtt_url: str
    sandbox: Sandbox
    settings: Settings
    secrets: Secrets
    store: AuditStore
    prefix: str
    staff: list[str]
    drill: list[str]
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)
    channels: list[Channel] = field(default_factory=list)

    # -- the fakes ------------------------------------------------------------------------------
    @property
    def x(self) -> FakeX:
        fake = self.sandbox.fakes["x"]
        assert isinstance(fake, FakeX)
        return fake

    @property
    def x_exercise(self) -> FakeX:
        fake = self.sandbox.fakes["x_exercise"]
        assert isinstance(fake, FakeX)
        return fake

    @property
    def graph(self) -> FakeGraph:
        fake = self.sandbox.fakes["graph"]
        assert isinstance(fake, FakeGraph)
        return fake

    @property
    def twilio(self) -> FakeTwilio:
        fake = self.sandbox.fakes["twilio"]
        assert isinstance(fake, FakeTwilio)
        return fake

    # -- targets --------------------------------------------------------------------------------
    def banner_path(self, *, exercise: bool) -> Path:
        c = spec_for("banner").config(self.settings)
        path = c.exercise_path if exercise else c.path
        assert path is not None
        return self.settings.resolve(path)

    def mqtt_topic(self, *, exercise: bool) -> str:
        c = spec_for("mqtt").config(self.settings)
        prefix = c.exercise_topic_prefix if exercise else c.topic_prefix
        assert prefix is not None
        return alert_topic(prefix)

    # -- sending --------------------------------------------------------------------------------
    def dispatcher(self, **kw: Any) -> Dispatcher:
        kw.setdefault("in_doubt_policy", self.settings.policy.in_doubt_policy)
        return Dispatcher(
            self.store,
            limiters=self.limiters,
            backoff_base_s=BACKOFF_BASE_S,
            backoff_cap_s=BACKOFF_CAP_S,
            **kw,
        )

    def build(self, message: CrisisMessage) -> list[Channel]:
        """The channels the registry builds for ``message``; every one must be able to serve."""
        channels, skipped = build_channels(self.settings, self.secrets, message)
        assert not skipped, f"channels skipped: {skipped}"
        self.channels = channels
        return channels

    async def plan(self, message: CrisisMessage, **kw: Any) -> tuple[Dispatcher, Plan]:
        """Build the channels and persist the plan; nothing is sent yet."""
        channels = self.build(message)
        dispatcher = self.dispatcher()
        plan = await dispatcher.plan(message, channels, approval={"approver": "e2e", "method": "test"}, **kw)
        return dispatcher, plan

    async def broadcast(self, message: CrisisMessage, **kw: Any) -> tuple[Plan, DispatchReport]:
        """Plan and run ``message`` on every channel it asks for; returns the plan and report."""
        dispatcher, plan = await self.plan(message, **kw)
        report = await dispatcher.run(plan)
        return plan, report

    # -- reading state back ---------------------------------------------------------------------
    async def retained(self, topic: str) -> bytes | None:
        """The retained payload on ``topic`` as a new subscriber sees it; None when there is none.

        "None" is decided without a timer: after subscribing, the reader publishes a marker
        on a private topic it also subscribes to; the broker hands out retained messages on
        subscription, so a retained message would arrive before the marker.
        """
        parts = urlsplit(self.mqtt_url)
        marker_topic = f"{self.prefix}/marker/{uuid.uuid4().hex}"
        async with asyncio.timeout(MQTT_READ_TIMEOUT_S):
            async with aiomqtt.Client(
                parts.hostname or "127.0.0.1", port=parts.port or 1883, identifier=f"e2e-{uuid.uuid4().hex}"
            ) as client:
                await client.subscribe(topic, qos=1)
                await client.subscribe(marker_topic, qos=1)
                await client.publish(marker_topic, b"marker", qos=1)
                async for msg in client.messages:
                    if msg.topic.matches(marker_topic):
                        return None
                    payload = msg.payload
                    assert isinstance(payload, bytes | bytearray)
                    return bytes(payload) or None
        raise AssertionError("unreachable")

    async def clear_mqtt(self) -> None:
        c = spec_for("mqtt").config(self.settings)
        await clear_prefix(self.mqtt_url, *(p for p in (c.topic_prefix, c.exercise_topic_prefix) if p))


def _raw_config(
    tmp: Path, mqtt_url: str, prefix: str, sandbox: Sandbox, overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    raw: dict[str, Any] = tomllib.loads(default_config_text())
    raw["store"]["url"] = f"sqlite:///{tmp / 'audit.db'}"
    raw["base_dir"] = str(tmp)
    ch = raw["channels"]
    point_at_sandbox(ch, sandbox)
    lift_pacing(ch)  # Bluesky's and Mastodon's 1/s would pace every thread part
    ch["twitter"].update(max_requests_per_s=200.0, burst=20)
    ch["sms"].update(
        contacts=str(tmp / "contacts.csv"),
        max_concurrency=50,
        max_requests_per_s=5000.0,
        burst=200,
    )
    ch["voice"].update(
        api_base_url=sandbox.urls["twilio-voice"],
        contacts=str(tmp / "contacts.csv"),
        max_concurrency=50,
        max_requests_per_s=5000.0,
        burst=200,
        poll_interval_s=0.01,
    )
    ch["banner"].update(path=str(tmp / "banner.json"), exercise_path=str(tmp / "banner-exercise.json"))
    ch["email"].update(
        smtp_url=sandbox.urls["smtp"],
        contacts=str(tmp / "contacts.csv"),
        max_concurrency=20,
        max_requests_per_s=5000.0,
        burst=200,
    )
    ch["mqtt"].update(
        url=mqtt_url,
        topic_prefix=f"{prefix}/production",
        exercise_topic_prefix=f"{prefix}/exercise",
        request_timeout_s=5.0,
    )
    for section, values in overrides.items():
        target = raw["policy"] if section == "policy" else ch[section]
        target.update(values)
    return raw


@contextlib.asynccontextmanager
async def open_stage(
    tmp: Path,
    mqtt_url: str,
    *,
    staff: int = 20,
    drill: int = 5,
    extra_staff: tuple[str, ...] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    sandbox: Sandbox | None = None,
) -> AsyncIterator[Stage]:
    """Start the sandbox (or take ``sandbox``: fakes already running, e.g. with other
    credentials) and open the audit store; ``overrides`` maps a channel name (or ``"policy"``)
    to values for its configuration section. Stops everything afterwards."""
    prefix = f"crisiscast-e2e/{uuid.uuid4().hex}"
    if sandbox is None:
        sandbox = await start_sandbox(Settings.model_validate(tomllib.loads(default_config_text())))
    try:
        (tmp / "contacts.csv").write_text(
            contacts_csv(staff, drill, extra_staff=extra_staff), encoding="utf-8"
        )
        raw = _raw_config(tmp, mqtt_url, prefix, sandbox, overrides or {})
        config = tmp / CONFIG_NAME
        config.write_text(to_toml(raw), encoding="utf-8")
        settings = load_settings(config)  # the same path the CLI takes
        store = open_store(settings.store.url)
        await store.open()
        stage = Stage(
            tmp=tmp,
            mqtt_url=mqtt_url,
            sandbox=sandbox,
            settings=settings,
            secrets=sandbox.secrets(),
            store=store,
            prefix=prefix,
            staff=[staff_number(i) for i in range(staff)] + list(extra_staff),
            drill=[drill_number(i) for i in range(drill)],
        )
        try:
            yield stage
        finally:
            await store.close()
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await stage.clear_mqtt()
    finally:
        await sandbox.stop()


def json_body(rec: RecordedRequest) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(rec.body)
    return data
