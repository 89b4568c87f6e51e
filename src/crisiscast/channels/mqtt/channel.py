"""MQTT signage channel: the current alert as a retained JSON message (aiomqtt 2.x, MQTT v5).

Signage players subscribe to ``{topic_prefix}/alert/current`` (exercise:
``exercise_topic_prefix``). crisiscast publishes the alert document
(``crisiscast.adapt.adapt_mqtt``) there with RETAIN=1 and QoS 1, so a screen that (re)connects
gets the current alert at once, and with the MQTT 5 Message Expiry Interval set to the time
left until the message expires, so the broker drops a stale alert even if crisiscast is gone.
A Cancel publishes a zero-byte retained payload, which removes the retained message (current
subscribers receive the empty message and clear their screens).

Late publishes of older documents are refused across processes: every publish first reads the
retained record on ``{topic_prefix}/alert/state`` (``crisiscast.channels.mqtt.state``) and a
document issued earlier than the recorded one is not published (receipt ``superseded``);
otherwise the record is replaced, then the alert. Two publishers of *different* documents at
the same moment can still interleave (the read and the writes are not one atomic step on an
MQTT broker): within those few milliseconds the older one may win.

One connection is kept open across sends (``start``/``aclose``). One ``send`` = connect if
the connection is gone (the broker restarted, the network broke) + read the record + two
publishes (record, alert), each waiting for the broker's PUBACK. Failures: cannot connect,
connection lost, no answer in time → ``Transient`` (re-publishing retained state is
idempotent, so nothing can be duplicated); the broker refuses our credentials or
authorisation, or the subscription to the record → ``Permanent``; the message already
expired → ``Permanent``. ``reconcile`` re-publishes through the same check and returns the
receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import ssl
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiomqtt
import structlog
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr

from crisiscast.adapt.state import cleared_document
from crisiscast.channels.base import BaseChannel, ChannelLimits, ChannelUnavailable, RenderContext
from crisiscast.channels.mqtt import SPEC
from crisiscast.channels.mqtt.adapt import adapt_mqtt
from crisiscast.channels.mqtt.config import MqttConfig
from crisiscast.channels.mqtt.state import (
    StateUnreadable,
    encode_state,
    probe_topic,
    read_state,
    state_expiry_s,
    state_topic,
    supersedes,
)
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import DeliveryError, Permanent, PolicyError, Transient
from crisiscast.isolation import topic_prefix_identity
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, MsgType, Status

__all__ = ["MqttChannel", "alert_topic", "build", "classify_mqtt_error", "encode_publication", "state_topic"]

log = structlog.get_logger(__name__)

# CONNACK reasons that no retry can fix. MQTT 5: 134 bad user name or password, 135 not
# authorised, 138 banned, 140 bad authentication method; MQTT 3.1.1: 4 and 5 (same meanings).
_AUTH_REFUSALS = frozenset({134, 135, 138, 140})
_AUTH_REFUSALS_V311 = frozenset({4, 5})


def alert_topic(prefix: str) -> str:
    """The retained topic of the current alert under ``prefix``."""
    return f"{topic_prefix_identity(prefix)}/alert/current"


def encode_publication(
    document: JsonMapping, *, now: datetime | None = None
) -> tuple[bytes, Properties | None, int | None]:
    """The payload, MQTT 5 properties and expiry (seconds) to publish for ``document``.

    A cleared document becomes a zero-byte payload (removes the retained message). An active
    one becomes UTF-8 JSON with ``MessageExpiryInterval`` = whole seconds left until
    ``expires_at`` (rounded up; no property when the document has no expiry). Raises
    ``Permanent`` when the document already expired.
    """
    if document.get("status") != "active":
        return b"", None, None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.PayloadFormatIndicator = 1  # UTF-8 text
    props.ContentType = "application/json"
    expiry_s: int | None = None
    expires = document.get("expires_at")
    if isinstance(expires, str) and expires:
        when = datetime.fromisoformat(expires)
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        left_s = (when - (now or datetime.now(UTC))).total_seconds()
        if left_s <= 0:
            raise Permanent("The message expired before it could be published to signage.", code="expired")
        expiry_s = math.ceil(left_s)
        props.MessageExpiryInterval = expiry_s
    payload = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return payload, props, expiry_s


def classify_mqtt_error(exc: aiomqtt.MqttError, *, broker: str) -> DeliveryError:
    """Map an aiomqtt error to a classified error: refused credentials are permanent, all else transient."""
    if isinstance(exc, MqttConnectError):
        rc = exc.rc
        value = rc.value if isinstance(rc, ReasonCode) else rc
        if (isinstance(rc, ReasonCode) and value in _AUTH_REFUSALS) or (
            isinstance(rc, int) and value in _AUTH_REFUSALS_V311
        ):
            return Permanent(
                f"The MQTT broker {broker} refused our credentials or authorisation; "
                "check [channels.mqtt] username and CRISISCAST_MQTT_PASSWORD.",
                code=f"mqtt_connack_{value}",
            )
        return Transient(
            f"The MQTT broker {broker} refused the connection for now.", code=f"mqtt_connack_{value}"
        )
    text = str(exc).lower()
    if "timed out" in text:
        return Transient(f"The MQTT broker {broker} did not answer in time.", code="mqtt_timeout")
    return Transient(
        f"Lost or could not open the connection to the MQTT broker {broker}.", code="mqtt_connection"
    )


def _summary(document: JsonMapping) -> str:
    if document.get("status") != "active":
        return "Retained alert cleared (zero-byte retained message)."
    return str(document.get("headline") or "")


class MqttChannel(BaseChannel):
    """Publishes the current alert as a retained MQTT v5 message; keeps one connection open."""

    name = "mqtt"
    public = True

    def __init__(
        self,
        url: str,
        topic_prefix: str,
        policy: PolicyConfig,
        *,
        exercise: bool = False,
        username: str | None = None,
        password: SecretStr | None = None,
        request_timeout_s: float = 10.0,
        limits: ChannelLimits | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme in ("mqtts", "ssl", "tls")
        self.hostname = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.broker = f"{self.hostname}:{self.port}"
        self.prefix = topic_prefix
        self.topic = alert_topic(topic_prefix)
        self.state_topic = state_topic(topic_prefix)
        self.policy = policy
        self.exercise = exercise
        self.username = username
        self._password = password
        self.request_timeout_s = request_timeout_s
        self.account = f"mqtt:{self.broker}/{self.topic}"
        self.limits = limits or ChannelLimits.from_config(MqttConfig())
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery: the alert document, or the cleared document for a Cancel."""
        if message.status is not Status.ACTUAL and not self.exercise:
            raise PolicyError(
                f"An {message.status.value} message cannot go to production signage; "
                "configure [channels.mqtt] exercise_topic_prefix."
            )
        if message.msg_type is MsgType.CANCEL:
            document = dict(cleared_document(message, self.policy, issued_at=ctx.now))
        else:
            document = dict(adapt_mqtt(message, self.policy, issued_at=ctx.now))
        return [
            Delivery(
                dispatch_id=ctx.dispatch_id,
                channel=self.name,
                target=self.topic,
                part=0,
                body=_summary(document),
                language=str(document.get("language") or message.language),
                payload=document,
            )
        ]

    async def start(self) -> None:
        """Connect now if the broker answers; otherwise the first ``send`` connects (never raises)."""
        try:
            await self._connected()
        except DeliveryError as exc:
            log.warning("mqtt_connect_deferred", broker=self.broker, reason=exc.reason)

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Read the state record, then publish the state and the alert (retained, QoS 1, PUBACK each).

        A document issued earlier than the recorded one is not published: the receipt says
        ``superseded`` (a late retry or resume of an alert cannot undo its update or all-clear).
        """
        bound = log.bind(dispatch_id=delivery.dispatch_id, channel=self.name, delivery=delivery.key)
        document = delivery.payload
        payload, properties, expiry_s = encode_publication(document)
        digest = hashlib.sha256(payload).hexdigest()[:12]
        async with self._lock:
            client = await self._connected()
            marker = probe_topic(self.prefix)
            try:
                try:
                    record = await read_state(
                        client, self.state_topic, marker, timeout_s=self.request_timeout_s
                    )
                except StateUnreadable:
                    await self._drop()
                    raise Permanent(
                        f"The MQTT broker {self.broker} refused the subscription to {self.state_topic}; "
                        "allow the crisiscast account to subscribe and publish under the topic prefix.",
                        code="mqtt_state_refused",
                    ) from None
                if supersedes(record, document):
                    assert record is not None
                    await self._unsubscribe(client, marker)
                    bound.warning("mqtt_superseded", topic=self.topic, newer=record.summary())
                    return Receipt(
                        provider_id=f"{self.topic}@{digest}" if payload else f"{self.topic}@cleared",
                        status="superseded",
                        detail={"topic": self.topic, "retained": False, "newer": record.summary()},
                    )
                state_s = state_expiry_s(document, expiry_s, record)
                state_payload, state_props = encode_state(document, state_s)
                # The record first: a crash between the two publishes then leaves a record that
                # refuses older documents, never an older record next to a newer alert.
                await client.publish(
                    self.state_topic,
                    state_payload,
                    qos=1,
                    retain=True,
                    properties=state_props,
                    timeout=self.request_timeout_s,
                )
                await client.publish(
                    self.topic,
                    payload,
                    qos=1,
                    retain=True,
                    properties=properties,
                    timeout=self.request_timeout_s,
                )
            except (aiomqtt.MqttError, TimeoutError) as exc:
                await self._drop()
                error = (
                    classify_mqtt_error(exc, broker=self.broker)
                    if isinstance(exc, aiomqtt.MqttError)
                    else Transient(
                        f"The MQTT broker {self.broker} did not answer in time.", code="mqtt_timeout"
                    )
                )
                bound.warning("mqtt_publish_failed", code=error.code, reason=error.reason)
                raise error from None
            await self._unsubscribe(client, marker)
        bound.info(
            "mqtt_published", topic=self.topic, bytes=len(payload), expiry_s=expiry_s, state_expiry_s=state_s
        )
        detail: JsonObject = {"topic": self.topic, "retained": True, "bytes": len(payload)}
        if expiry_s is not None:
            detail["message_expiry_s"] = expiry_s
        return Receipt(
            provider_id=f"{self.topic}@{digest}" if payload else f"{self.topic}@cleared",
            status="published" if payload else "cleared",
            detail=detail,
        )

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Re-publish (retained state is idempotent) and return the receipt."""
        return await self.send(delivery, None)

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop()

    async def _unsubscribe(self, client: aiomqtt.Client, marker: str) -> None:
        """End the state read's subscriptions; on failure drop the connection (its session ends with it)."""
        try:
            await client.unsubscribe([self.state_topic, marker], timeout=self.request_timeout_s)
        except aiomqtt.MqttError:
            await self._drop()

    async def _connected(self) -> aiomqtt.Client:
        """The open client, reconnecting with a fresh one when the connection is gone."""
        if self._client is not None and self._client._client.is_connected():
            return self._client
        await self._drop()
        client = aiomqtt.Client(
            self.hostname,
            self.port,
            username=self.username,
            password=self._password.get_secret_value() if self._password is not None else None,
            identifier=f"crisiscast-{uuid.uuid4().hex[:16]}",
            protocol=aiomqtt.ProtocolVersion.V5,
            timeout=self.request_timeout_s,
            tls_context=ssl.create_default_context() if self.tls else None,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise classify_mqtt_error(exc, broker=self.broker) from None
        self._client = client
        log.info("mqtt_connected", broker=self.broker)
        return client

    async def _drop(self) -> None:
        """Close the current client, if any, without waiting long on a dead connection."""
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
            async with asyncio.timeout(self.request_timeout_s):
                await client.__aexit__(None, None, None)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> MqttChannel:
    """The MQTT signage channel for production or, with ``exercise``, the exercise prefix.

    Raises ``ChannelUnavailable`` when disabled, when no exercise prefix is configured, or
    when a username is configured without ``CRISISCAST_MQTT_PASSWORD``.
    """
    config = SPEC.config(settings)
    if not config.enabled:
        raise ChannelUnavailable("The MQTT signage channel is disabled in the configuration.")
    prefix = config.exercise_topic_prefix if exercise else config.topic_prefix
    if not prefix:
        raise ChannelUnavailable(
            "No exercise MQTT topic is configured; "
            "set [channels.mqtt] exercise_topic_prefix to drill signage."
        )
    if any(c in prefix for c in "#+") or "\0" in prefix:
        raise ChannelUnavailable(f"The MQTT topic prefix {prefix!r} must not contain the wildcards # or +.")
    if config.username and secrets.get("mqtt_password") is None:
        raise ChannelUnavailable(
            "The MQTT broker needs a password for the configured username; set CRISISCAST_MQTT_PASSWORD."
        )
    limits = ChannelLimits.from_config(config)
    return MqttChannel(
        config.url,
        prefix,
        settings.policy,
        exercise=exercise,
        username=config.username,
        password=secrets.get("mqtt_password") if config.username else None,
        request_timeout_s=config.request_timeout_s,
        limits=limits,
    )
