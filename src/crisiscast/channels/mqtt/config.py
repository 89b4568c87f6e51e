"""``[channels.mqtt]``: the signage broker, topic prefixes and the broker user."""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["MqttConfig"]


class MqttConfig(ChannelSection):
    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "hospital/crisiscast"
    exercise_topic_prefix: str | None = "hospital/crisiscast-exercise"
    username: str | None = None  # password: CRISISCAST_MQTT_PASSWORD
    max_concurrency: int = Field(default=1, ge=1)  # one retained state: one publish at a time
    deadline_s: float = Field(default=120.0, gt=0)
