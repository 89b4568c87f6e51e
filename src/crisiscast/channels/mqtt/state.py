"""The signage "newest document" record: a retained state topic that stops late publishes of older alerts.

Next to the current alert (``{prefix}/alert/current``) crisiscast keeps a retained, QoS 1
message on ``{prefix}/alert/state``: compact JSON ``{"id", "status", "issued_at"}`` of the
newest document published there (alert, update or all-clear). Before a publish, the channel
reads it (``read_state``) and does not publish a document *issued earlier* than the recorded
one, so a retry or a ``crisiscast resume`` that runs late cannot bring a cancelled or updated
alert back, even from another process. The same document again (equal ``issued_at``) is
published: a retry is idempotent.

Reading "the retained message, or the fact that there is none" needs no timer: the reader
subscribes to the state topic and to a private marker topic, then publishes to the marker.
The broker handles one connection's packets in order and hands out retained messages while
it handles the SUBSCRIBE, so the state (if any) arrives before the marker.

The record is a high-water mark, not a display: its ``status`` says what the newest document
was, not whether an alert is showing (read ``alert/current`` for that). Its Message Expiry
(``state_expiry_s``) is the alert's, extended to the record it replaces, so it outlives every
older document the broker has seen: an older alert is only refused while it is unexpired
(``encode_publication``), and the record must last at least as long. A cleared record never
expires.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from crisiscast.isolation import topic_prefix_identity
from crisiscast.jsontypes import JsonMapping, JsonObject

__all__ = [
    "StateRecord",
    "StateUnreadable",
    "encode_state",
    "issued_at",
    "probe_topic",
    "read_state",
    "state_expiry_s",
    "state_topic",
    "supersedes",
]


def state_topic(prefix: str) -> str:
    """The retained topic of the newest-document record under ``prefix``."""
    return f"{topic_prefix_identity(prefix)}/alert/state"


def probe_topic(prefix: str) -> str:
    """A fresh private marker topic under ``prefix`` (never retained, one per read)."""
    return f"{topic_prefix_identity(prefix)}/probe/{uuid.uuid4().hex}"


def issued_at(document: JsonMapping) -> datetime | None:
    """The document's ``issued_at`` as an aware datetime (UTC when naive); None when absent or invalid."""
    value = document.get("issued_at")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A record read from the state topic; ``expiry_s`` is what the broker says is left (None: never)."""

    id: str | None
    status: str | None
    issued_at: datetime | None
    expiry_s: int | None

    def summary(self) -> JsonObject:
        """The record as receipt detail: id, status and issue time."""
        when = self.issued_at.isoformat() if self.issued_at is not None else None
        return {"id": self.id, "status": self.status, "issued_at": when}


def supersedes(record: StateRecord | None, document: JsonMapping) -> bool:
    """True when ``record`` is of a document issued later than ``document`` (then do not publish).

    Without a record, or without an issue time on either side, nothing is superseded (as for
    the banner file).
    """
    if record is None or record.issued_at is None:
        return False
    ours = issued_at(document)
    return ours is not None and record.issued_at > ours


def encode_state(document: JsonMapping, expiry_s: int | None) -> tuple[bytes, Properties]:
    """The state payload and MQTT 5 properties for ``document`` (no expiry property when None)."""
    record = {
        "id": document.get("id"),
        "status": "active" if document.get("status") == "active" else "cleared",
        "issued_at": document.get("issued_at"),
    }
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.PayloadFormatIndicator = 1
    props.ContentType = "application/json"
    if expiry_s is not None:
        props.MessageExpiryInterval = expiry_s
    payload = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return payload, props


def state_expiry_s(
    document: JsonMapping, alert_expiry_s: int | None, replaced: StateRecord | None
) -> int | None:
    """The Message Expiry of the record for ``document``; None = never expires.

    Cleared → never. Active → the alert's own expiry (``alert_expiry_s``; None when the alert
    has none), but at least what is left of the record it replaces (a replaced record that
    never expires keeps the new one from expiring): an update that expires sooner than the
    alert it updates must not let that alert come back once the update has expired.
    """
    if document.get("status") != "active" or alert_expiry_s is None:
        return None
    if replaced is None:
        return alert_expiry_s
    if replaced.expiry_s is None:
        return None
    return max(alert_expiry_s, replaced.expiry_s)


def _parse(message: aiomqtt.Message) -> StateRecord | None:
    payload = message.payload
    if not isinstance(payload, bytes | bytearray) or not payload:
        return None  # an empty retained payload means "no record"
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    expiry = getattr(message.properties, "MessageExpiryInterval", None) if message.properties else None
    return StateRecord(
        id=data.get("id") if isinstance(data.get("id"), str) else None,
        status=data.get("status") if isinstance(data.get("status"), str) else None,
        issued_at=issued_at(data),
        expiry_s=int(expiry) if isinstance(expiry, int) else None,
    )


def _newest(a: StateRecord | None, b: StateRecord | None) -> StateRecord | None:
    if a is None or a.issued_at is None:
        return b if b is not None else a
    if b is None or b.issued_at is None:
        return a
    return b if b.issued_at > a.issued_at else a


def _code(code: int | ReasonCode) -> int:
    return code.value if isinstance(code, ReasonCode) else code


class StateUnreadable(Exception):
    """The broker refused the subscription to the state or marker topic (authorisation)."""


async def read_state(
    client: aiomqtt.Client, topic: str, marker: str, *, timeout_s: float
) -> StateRecord | None:
    """The record retained on ``topic`` (None when there is none), read through ``client``.

    Leaves ``client`` subscribed to ``topic`` (with No Local, so our own publications do not
    come back) and ``marker``; the caller unsubscribes. Any state message still queued from an
    earlier read counts too, and the newest of them wins (an older record can only make the
    check less strict than the broker's, never refuse a newer document). Raises
    ``StateUnreadable`` when the broker refuses a subscription, ``TimeoutError`` when the
    marker does not come back within ``timeout_s``, and ``aiomqtt.MqttError`` when the
    connection fails.
    """
    async with asyncio.timeout(timeout_s):
        granted = await client.subscribe(
            [
                (topic, SubscribeOptions(qos=1, noLocal=True)),
                (marker, SubscribeOptions(qos=1)),
            ],
            timeout=timeout_s,
        )
        if any(_code(granted_code) >= 0x80 for granted_code in granted):
            raise StateUnreadable(topic)
        await client.publish(marker, b"", qos=1, timeout=timeout_s)
        record: StateRecord | None = None
        async for message in client.messages:
            if message.topic.value == marker:
                return record
            if message.topic.value == topic:
                record = _newest(record, _parse(message))
    raise TimeoutError  # the iterator never ends while connected; unreachable in practice
