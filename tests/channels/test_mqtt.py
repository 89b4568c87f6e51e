"""MQTT signage against the real Mosquitto, read back by an independent aiomqtt subscriber.

Each test uses its own topic prefix. Reconnection is tested through a small TCP proxy that
the test cuts and restores (the system broker is never restarted); credentials through a
private Mosquitto started with a password file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest
from aiomqtt.exceptions import MqttCodeError, MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr

from crisiscast.channels.base import ChannelUnavailable, RenderContext
from crisiscast.channels.mqtt.channel import MqttChannel, build, classify_mqtt_error, encode_publication
from crisiscast.config import PolicyConfig, Secrets, Settings, load_secrets
from crisiscast.delivery import Delivery
from crisiscast.errors import Ambiguous, Permanent, PolicyError, RateLimited, Transient
from crisiscast.message import CrisisMessage, MsgType, Severity, Status
from tests.channels.contract import ErrorCase, make_canaries, run_contract_suite
from tests.mqtt_cleanup import clear_topics

WAIT_S = 10.0


def alert_doc(
    ident: str = "alert-1",
    *,
    expires_in_s: float | None = 3600,
    headline: str = "Fire",
    issued_at: datetime | None = None,
) -> dict[str, Any]:
    """An alert document shaped like ``adapt_mqtt``'s output (issued now unless ``issued_at``)."""
    now = datetime.now(UTC)
    return {
        "id": ident,
        "status": "active",
        "msg_type": "Alert",
        "severity": "Extreme",
        "urgency": "Immediate",
        "event": "Fire",
        "headline": headline,
        "instruction": "Use the west entrance.",
        "description": "",
        "web": None,
        "language": "en",
        "translations": {},
        "issued_at": (issued_at or now).isoformat(),
        "expires_at": (now + timedelta(seconds=expires_in_s)).isoformat()
        if expires_in_s is not None
        else None,
        "exercise": False,
    }


def cleared_doc(ident: str = "alert-1", *, issued_at: datetime | None = None) -> dict[str, Any]:
    """A cleared document; without ``issued_at`` it carries no issue time (cannot be compared)."""
    doc: dict[str, Any] = {"id": ident, "status": "cleared", "exercise": False}
    if issued_at is not None:
        doc["issued_at"] = issued_at.isoformat()
    return doc


def delivery_for(channel: MqttChannel, doc: dict[str, Any], dispatch_id: str = "d1") -> Delivery:
    return Delivery(
        dispatch_id=dispatch_id, channel="mqtt", target=channel.topic, part=0, body="", payload=doc
    )


def hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


async def read_retained(url: str, topic: str, **auth: Any) -> list[aiomqtt.Message]:
    """The retained messages a brand-new subscriber gets for ``topic`` (an independent client).

    After subscribing, the reader publishes a marker on its own topic: the broker handles one
    connection's packets in order, so everything retained arrives before the marker.
    """
    host, port = hostport(url)
    marker = f"{topic}/reader-marker-{uuid.uuid4().hex}"
    got: list[aiomqtt.Message] = []
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5, **auth) as client:
        await client.subscribe(topic, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(WAIT_S):
            async for message in client.messages:
                if message.topic.value == marker:
                    return got
                got.append(message)
    return got


@pytest.fixture
def prefix() -> str:
    return f"crisiscast-test/{uuid.uuid4().hex}"


@pytest.fixture
async def channel(mqtt_url: str, prefix: str) -> AsyncIterator[MqttChannel]:
    ch = MqttChannel(mqtt_url, prefix, PolicyConfig(), request_timeout_s=5.0)
    await ch.start()
    yield ch
    await ch.aclose()
    await clear_topics(mqtt_url, ch.topic, ch.state_topic)  # leave nothing retained behind


async def test_alert_is_retained_with_payload_qos_and_expiry(channel: MqttChannel, mqtt_url: str) -> None:
    """A send leaves a retained JSON message on {prefix}/alert/current with message expiry set."""
    doc = alert_doc(expires_in_s=600)
    receipt = await channel.send(delivery_for(channel, doc), None)
    assert channel.topic.endswith("/alert/current")
    [message] = await read_retained(mqtt_url, channel.topic)
    assert message.retain is True
    assert message.qos == 1
    assert json.loads(message.payload) == doc
    assert message.properties is not None
    expiry_s: int = message.properties.MessageExpiryInterval  # type: ignore[attr-defined]
    assert 0 < expiry_s <= 600
    assert receipt.status == "published" and receipt.detail["message_expiry_s"] <= 600


async def test_no_expiry_property_without_an_expiry(channel: MqttChannel, mqtt_url: str) -> None:
    """A message without expires_at is retained without a Message Expiry Interval."""
    await channel.send(delivery_for(channel, alert_doc(expires_in_s=None)), None)
    [message] = await read_retained(mqtt_url, channel.topic)
    assert not hasattr(message.properties, "MessageExpiryInterval")


async def test_update_replaces_and_clear_removes_the_retained_message(
    channel: MqttChannel, mqtt_url: str
) -> None:
    """An update replaces the retained alert; clearing sends zero bytes and leaves nothing retained."""
    host, port = hostport(mqtt_url)
    await channel.send(delivery_for(channel, alert_doc(headline="Fire")), None)
    await channel.send(delivery_for(channel, alert_doc(headline="Fire contained"), "d2"), None)
    [message] = await read_retained(mqtt_url, channel.topic)
    assert json.loads(message.payload)["headline"] == "Fire contained"
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5) as live:
        await live.subscribe(channel.topic, qos=1)
        async with asyncio.timeout(WAIT_S):
            async for retained in live.messages:
                assert retained.retain  # the current alert, on subscribe
                break
            receipt = await channel.send(delivery_for(channel, cleared_doc(), "d3"), None)
            async for cleared in live.messages:
                assert cleared.payload == b""  # a screen that is watching clears at once
                break
    assert receipt.status == "cleared"
    assert await read_retained(mqtt_url, channel.topic) == []


async def test_republish_is_idempotent(channel: MqttChannel, mqtt_url: str) -> None:
    """Reconcile re-publishes the same retained state and returns a receipt."""
    delivery = delivery_for(channel, alert_doc())
    first = await channel.send(delivery, None)
    again = await channel.reconcile(delivery)
    assert again is not None and again.provider_id == first.provider_id
    assert len(await read_retained(mqtt_url, channel.topic)) == 1


T1 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
T2 = T1 + timedelta(minutes=5)


def expiry_of(message: aiomqtt.Message) -> int | None:
    """The Message Expiry Interval the broker delivered with ``message`` (None when absent)."""
    value = getattr(message.properties, "MessageExpiryInterval", None)
    return value if isinstance(value, int) else None


@pytest.fixture
async def other_process(mqtt_url: str, prefix: str) -> AsyncIterator[MqttChannel]:
    """A second channel on the same prefix with its own connection, as a ``crisiscast resume`` has."""
    ch = MqttChannel(mqtt_url, prefix, PolicyConfig(), request_timeout_s=5.0)
    yield ch
    await ch.aclose()


async def test_a_fresh_prefix_publishes_and_records_the_state(channel: MqttChannel, mqtt_url: str) -> None:
    """Without a state record the alert is published, and {prefix}/alert/state then holds its id,
    status and issue time, retained, QoS 1, expiring with the alert."""
    assert await read_retained(mqtt_url, channel.state_topic) == []
    doc = alert_doc("a-fresh", expires_in_s=600, issued_at=T1)
    receipt = await channel.send(delivery_for(channel, doc), None)
    assert receipt.status == "published"
    [current] = await read_retained(mqtt_url, channel.topic)
    assert json.loads(current.payload) == doc
    [state] = await read_retained(mqtt_url, channel.state_topic)
    assert channel.state_topic.endswith("/alert/state")
    assert (state.retain, state.qos) == (True, 1)
    assert json.loads(state.payload) == {"id": "a-fresh", "status": "active", "issued_at": T1.isoformat()}
    expiry_s = expiry_of(state)
    assert expiry_s is not None and 0 < expiry_s <= 600


async def test_a_late_retry_of_an_alert_cannot_undo_its_all_clear(
    channel: MqttChannel, other_process: MqttChannel, mqtt_url: str
) -> None:
    """Alert A (t1), its all-clear C (t2), then A again from another connection: nothing is
    published, signage stays cleared, A's receipt says superseded; the cleared record never expires."""
    alert = alert_doc("a", issued_at=T1)
    await channel.send(delivery_for(channel, alert), None)
    cleared = await channel.send(delivery_for(channel, cleared_doc("c", issued_at=T2), "d2"), None)
    assert cleared.status == "cleared"
    late = await other_process.send(delivery_for(other_process, alert), None)
    assert late.status == "superseded"
    assert late.detail["newer"] == {"id": "c", "status": "cleared", "issued_at": T2.isoformat()}
    assert await read_retained(mqtt_url, channel.topic) == []
    [state] = await read_retained(mqtt_url, channel.state_topic)
    assert json.loads(state.payload)["id"] == "c"
    assert expiry_of(state) is None
    # reconcile (a resume's look-up) goes through the same check
    again = await other_process.reconcile(delivery_for(other_process, alert))
    assert again is not None and again.status == "superseded"
    assert await read_retained(mqtt_url, channel.topic) == []


async def test_a_late_alert_cannot_replace_its_update(
    channel: MqttChannel, other_process: MqttChannel, mqtt_url: str
) -> None:
    """Update U (t2) is current; a late publish of the alert it updates (t1) leaves U retained, and
    the record outlives U's shorter expiry so that A cannot come back once U expires."""
    alert = alert_doc("a", expires_in_s=3600, headline="Fire", issued_at=T1)
    update = alert_doc("u", expires_in_s=600, headline="Fire contained", issued_at=T2)
    await channel.send(delivery_for(channel, alert), None)
    assert (await channel.send(delivery_for(channel, update, "d2"), None)).status == "published"
    late = await other_process.send(delivery_for(other_process, alert), None)
    assert late.status == "superseded"
    [current] = await read_retained(mqtt_url, channel.topic)
    assert json.loads(current.payload)["headline"] == "Fire contained"
    [state] = await read_retained(mqtt_url, channel.state_topic)
    assert json.loads(state.payload)["id"] == "u"
    state_expiry_s = expiry_of(state)
    assert state_expiry_s is not None and state_expiry_s > 600  # kept the replaced record's ~3600 s


async def test_the_same_document_twice_is_published_both_times(
    channel: MqttChannel, other_process: MqttChannel, mqtt_url: str
) -> None:
    """A retry of the current document (equal issue time) is published again, from either connection."""
    host, port = hostport(mqtt_url)
    doc = alert_doc("a", issued_at=T1)
    first = await channel.send(delivery_for(channel, doc), None)
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5) as live:
        await live.subscribe(channel.topic, qos=1)
        async with asyncio.timeout(WAIT_S):
            async for retained in live.messages:
                assert retained.retain and json.loads(retained.payload) == doc
                break
            second = await other_process.send(delivery_for(other_process, doc), None)
            async for republished in live.messages:  # the broker forwarded the second publish
                assert json.loads(republished.payload) == doc
                break
    assert (first.status, second.status) == ("published", "published")
    assert second.provider_id == first.provider_id


async def test_a_newer_document_replaces_an_older_record(channel: MqttChannel, mqtt_url: str) -> None:
    """A document issued later than the record is published and becomes the record."""
    await channel.send(delivery_for(channel, cleared_doc("c", issued_at=T1)), None)
    receipt = await channel.send(delivery_for(channel, alert_doc("b", issued_at=T2), "d2"), None)
    assert receipt.status == "published"
    [current] = await read_retained(mqtt_url, channel.topic)
    assert json.loads(current.payload)["id"] == "b"
    [state] = await read_retained(mqtt_url, channel.state_topic)
    assert json.loads(state.payload)["id"] == "b"


def test_an_expired_message_is_never_published() -> None:
    """A document whose expiry has passed is refused permanently, before any connection."""
    with pytest.raises(Permanent) as info:
        encode_publication(alert_doc(expires_in_s=-1))
    assert info.value.code == "expired"


def test_error_map() -> None:
    """Refused credentials/authorisation are Permanent; every other broker failure is Transient."""
    broker = "127.0.0.1:1883"
    bad_password = MqttConnectError(ReasonCode(PacketTypes.CONNACK, identifier=134))
    not_authorised = MqttConnectError(ReasonCode(PacketTypes.CONNACK, identifier=135))
    busy = MqttConnectError(ReasonCode(PacketTypes.CONNACK, identifier=137))
    assert type(classify_mqtt_error(bad_password, broker=broker)) is Permanent
    assert type(classify_mqtt_error(not_authorised, broker=broker)) is Permanent
    assert type(classify_mqtt_error(MqttConnectError(5), broker=broker)) is Permanent  # MQTT 3.1.1
    assert type(classify_mqtt_error(busy, broker=broker)) is Transient
    assert classify_mqtt_error(aiomqtt.MqttError("Operation timed out"), broker=broker).code == "mqtt_timeout"
    lost = classify_mqtt_error(MqttCodeError(7, "Unexpected disconnection"), broker=broker)
    assert type(lost) is Transient and lost.code == "mqtt_connection"


def _message(**kw: Any) -> CrisisMessage:
    base: dict[str, Any] = {
        "status": Status.ACTUAL,
        "headline": "Fire in Building A",
        "severity": Severity.EXTREME,
    }
    base.update(kw)
    return CrisisMessage(**base)


def test_render_alert_and_cancel(prefix: str) -> None:
    """An alert renders the active document; a Cancel the cleared one; one delivery on the topic."""
    ch = MqttChannel("mqtt://127.0.0.1:1883", prefix, PolicyConfig())
    [alert] = ch.render(_message(), RenderContext(dispatch_id="d1"))
    assert (alert.target, alert.part, alert.payload["status"]) == (f"{prefix}/alert/current", 0, "active")
    cancel = _message(msg_type=MsgType.CANCEL, references=("crisiscast-original",))
    [cleared] = ch.render(cancel, RenderContext(dispatch_id="d2"))
    assert cleared.payload["status"] == "cleared"
    with pytest.raises(PolicyError, match="exercise_topic_prefix"):
        ch.render(_message(status=Status.EXERCISE), RenderContext(dispatch_id="d3"))


def test_build_refuses_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    """build() refuses a disabled channel, a missing exercise prefix, and a username without password."""
    monkeypatch.delenv("CRISISCAST_MQTT_PASSWORD", raising=False)
    settings = Settings()
    assert build(settings, Secrets(), exercise=True).topic == "hospital/crisiscast-exercise/alert/current"
    cases = [
        ({"enabled": False}, False, "disabled"),
        ({"exercise_topic_prefix": None}, True, "exercise_topic_prefix"),
        ({"topic_prefix": "hospital/#"}, False, "wildcards"),
        ({"username": "signage"}, False, "CRISISCAST_MQTT_PASSWORD"),
    ]
    for section, exercise, words in cases:
        bad = Settings.model_validate({"channels": {"mqtt": section}})
        with pytest.raises(ChannelUnavailable, match=words):
            build(bad, Secrets(), exercise=exercise)


class TcpProxy:
    """A TCP relay on 127.0.0.1 that a test can cut (a broker "restart") and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and break every relayed connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            dst.transport.abort()


@pytest.fixture
async def proxy(mqtt_url: str) -> AsyncIterator[TcpProxy]:
    relay = TcpProxy(hostport(mqtt_url))
    await relay.start()
    yield relay
    await relay.cut()


async def test_reconnects_after_the_broker_comes_back(proxy: TcpProxy, prefix: str, mqtt_url: str) -> None:
    """Broker gone → a send fails Transient; broker back → the next send reconnects and publishes."""
    channel = MqttChannel(proxy.url, prefix, PolicyConfig(), request_timeout_s=2.0)
    await channel.start()
    try:
        await channel.send(delivery_for(channel, alert_doc(headline="first")), None)
        await proxy.cut()
        with pytest.raises(Transient):
            await channel.send(delivery_for(channel, alert_doc(headline="while down"), "d2"), None)
        await proxy.start()
        receipt = await channel.send(delivery_for(channel, alert_doc(headline="after restart"), "d3"), None)
        # Broken again while idle, then back: at most one Transient before the reconnect succeeds.
        await proxy.cut()
        await proxy.start()
        failures = 0
        for attempt in range(2):
            try:
                await channel.send(
                    delivery_for(channel, alert_doc(headline="after second restart"), f"e{attempt}"), None
                )
                break
            except Transient:
                failures += 1
        assert failures <= 1
        retained = await read_retained(mqtt_url, channel.topic)
    finally:
        await channel.aclose()
        await clear_topics(mqtt_url, channel.topic, channel.state_topic)
    assert receipt.status == "published"
    [message] = retained
    assert json.loads(message.payload)["headline"] == "after second restart"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_broker(
    tmp_path: Path, username: str | None, password: str | None, *, extra_conf: str = ""
) -> Iterator[str]:
    """A private Mosquitto on a free port that only accepts ``username``/``password``.

    Without a username it accepts anonymous clients; ``extra_conf`` is appended to its configuration.
    """
    mosquitto, passwd = shutil.which("mosquitto") or "/usr/sbin/mosquitto", shutil.which("mosquitto_passwd")
    if not os.path.exists(mosquitto) or passwd is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the mosquitto binary is not installed (on CI a missing service is a failure)")
        pytest.skip("the mosquitto binary is not installed")
    if username is not None and password is not None:
        password_file = tmp_path / "passwords"
        subprocess.run(
            [str(passwd), "-b", "-c", str(password_file), username, password], check=True, capture_output=True
        )
        access = f"allow_anonymous false\npassword_file {password_file}\n"
    else:
        access = "allow_anonymous true\n"
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        # ``user``: stay the current user (as root, mosquitto would switch to one that cannot read tmp_path).
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        f"listener {port} 127.0.0.1\n{access}{extra_conf}"
        "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type information\n"
    )
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        said: list[str] = []
        for line in proc.stderr:  # bounded: mosquitto says it is running, or exits (EOF)
            said.append(line)
            if " running" in line:
                break
        else:
            pytest.fail("the private mosquitto did not start: " + "".join(said))
        # Keep draining its log so that mosquitto never blocks on a full pipe.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT_S)
        proc.stderr.close()


async def test_credentials_from_the_environment_and_refusal_is_permanent(tmp_path: Path, prefix: str) -> None:
    """With a username, the password comes from CRISISCAST_MQTT_PASSWORD; a wrong one is Permanent."""
    with private_broker(tmp_path, "signage", "right-password-123") as url:
        settings = Settings.model_validate(
            {"channels": {"mqtt": {"url": url, "username": "signage", "topic_prefix": prefix}}}
        )
        good = build(settings, Secrets(mqtt_password=SecretStr("right-password-123")), exercise=False)
        bad = build(settings, Secrets(mqtt_password=SecretStr("wrong-password-456")), exercise=False)
        try:
            await good.send(delivery_for(good, alert_doc()), None)
            with pytest.raises(Permanent) as info:
                await bad.send(delivery_for(bad, alert_doc()), None)
        finally:
            await good.aclose()
            await bad.aclose()
        auth = {"username": "signage", "password": "right-password-123"}
        assert len(await read_retained(url, good.topic, **auth)) == 1
    assert info.value.code in ("mqtt_connack_134", "mqtt_connack_135")  # mosquitto says 135
    assert "CRISISCAST_MQTT_PASSWORD" in str(info.value)
    assert "password-456" not in str(info.value)


DYNSEC_PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


@pytest.mark.skipif(not DYNSEC_PLUGIN.exists(), reason="mosquitto's dynamic security plugin is not installed")
async def test_a_broker_refusing_the_state_record_fails_permanently_and_publishes_nothing(
    tmp_path: Path, prefix: str
) -> None:
    """When the broker refuses the subscription to {prefix}/alert/state (SUBACK 0x87), the delivery
    fails Permanent (one sentence naming the topic, code mqtt_state_refused) and nothing is published."""
    # Anonymous clients may publish under the prefix and subscribe to the alert and the probes only
    # (alert/current/# also lets the test's reader use its marker under the alert topic).
    role_acls = [
        {"acltype": "publishClientSend", "topic": f"{prefix}/#", "allow": True},
        {"acltype": "subscribePattern", "topic": f"{prefix}/alert/current/#", "allow": True},
        {"acltype": "subscribePattern", "topic": f"{prefix}/probe/#", "allow": True},
    ]
    dynsec = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [],
        "groups": [{"groupname": "anonymous", "roles": [{"rolename": "signage"}]}],
        "anonymousGroup": "anonymous",
        "roles": [{"rolename": "signage", "acls": role_acls}],
    }
    (tmp_path / "dynsec.json").write_text(json.dumps(dynsec))
    extra = f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {tmp_path / 'dynsec.json'}\n"
    with private_broker(tmp_path, None, None, extra_conf=extra) as url:
        channel = MqttChannel(url, prefix, PolicyConfig(), request_timeout_s=5.0)
        try:
            with pytest.raises(Permanent) as info:
                await channel.send(delivery_for(channel, alert_doc()), None)
        finally:
            await channel.aclose()
        assert await read_retained(url, channel.topic) == []
    assert info.value.code == "mqtt_state_refused"
    assert channel.state_topic in str(info.value)


async def test_mqtt_contract_suite(tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared contract against an authenticated broker whose password is a canary secret."""
    canaries = make_canaries("CRISISCAST_MQTT_PASSWORD")
    monkeypatch.setenv("CRISISCAST_MQTT_PASSWORD", canaries["CRISISCAST_MQTT_PASSWORD"])
    with private_broker(tmp_path, "signage", canaries["CRISISCAST_MQTT_PASSWORD"]) as url:
        relay = TcpProxy(hostport(url))
        await relay.start()
        settings = Settings.model_validate(
            {
                "channels": {
                    "mqtt": {
                        "url": relay.url,
                        "username": "signage",
                        "topic_prefix": prefix,
                        "request_timeout_s": 2,
                    }
                }
            }
        )
        channel = build(settings, load_secrets(), exercise=False)
        # One document per send, in the suite's order: success, then each case.
        docs = iter([alert_doc("ok"), alert_doc("down"), alert_doc("late", expires_in_s=-5)])
        cases = [
            ErrorCase("broker unreachable", Transient, arrange=relay.cut),
            ErrorCase("message already expired", Permanent, code="expired", arrange=relay.start),
        ]
        try:
            await channel.start()
            await run_contract_suite(
                channel,
                make_delivery=lambda: delivery_for(channel, next(docs)),
                cases=cases,
                canaries=canaries.values(),
                not_applicable={
                    RateLimited: "MQTT brokers do not throttle a publisher with a retry-after",
                    Ambiguous: "retained state is idempotent, so a lost PUBACK is Transient",
                },
            )
        finally:
            await channel.aclose()
            await relay.cut()
