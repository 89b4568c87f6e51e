"""Leave nothing retained on the shared broker: tests publish under unique topic prefixes and
clear them afterwards (a zero-byte retained publish removes a retained message)."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiomqtt

from crisiscast.channels.mqtt.channel import alert_topic, state_topic


async def clear_topics(url: str, *topics: str) -> None:
    """Remove the retained messages on ``topics``."""
    parts = urlsplit(url)
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1", parts.port or 1883, protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        for topic in topics:
            await client.publish(topic, b"", qos=1, retain=True)


async def clear_prefix(url: str, *prefixes: str) -> None:
    """Remove the current alert and the newest-document record under each prefix."""
    await clear_topics(url, *(t for p in prefixes for t in (alert_topic(p), state_topic(p))))
