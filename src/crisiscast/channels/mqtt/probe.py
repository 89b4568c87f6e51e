"""The signage broker's health check: an MQTT CONNECT, then DISCONNECT, within a timeout."""

from __future__ import annotations

from urllib.parse import urlsplit

from crisiscast.channels.mqtt.config import MqttConfig
from crisiscast.channels.spec import HealthProbe
from crisiscast.config import Secrets

__all__ = ["PROBE_TIMEOUT_S", "mqtt_probe"]

PROBE_TIMEOUT_S = 3.0


def mqtt_probe(cfg: MqttConfig, secrets: Secrets) -> HealthProbe:
    """Connect to the broker (MQTT CONNECT, then DISCONNECT)."""

    async def probe() -> str | None:
        import aiomqtt

        parts = urlsplit(cfg.url)
        password = secret.get_secret_value() if (secret := secrets.get("mqtt_password")) else None
        try:
            async with aiomqtt.Client(
                hostname=parts.hostname or "127.0.0.1",
                port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                username=cfg.username,
                password=password,
                timeout=PROBE_TIMEOUT_S,
            ):
                return None
        except aiomqtt.MqttError as exc:
            return (
                f"the MQTT broker at {parts.hostname}:{parts.port or 1883} refused or did not answer "
                f"({exc}); "
                "start it (e.g. apt-get install mosquitto) or fix [channels.mqtt] url"
            )

    return probe
