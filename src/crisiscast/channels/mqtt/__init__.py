"""Signage over MQTT: the current alert as a retained message on the hospital's broker.

``SPEC`` tells crisiscast everything about the channel (``crisiscast.channels.spec``); the
publisher lives in ``channel``, the cross-process ordering record in ``state``, the broker
health check in ``probe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crisiscast.channels.mqtt.config import MqttConfig
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, HealthProbe, lazy_build
from crisiscast.isolation import topic_prefix_identity

if TYPE_CHECKING:
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.config import Secrets, Settings
    from crisiscast.message import CrisisMessage

__all__ = ["SPEC"]

NAME = "mqtt"


def _preview(message: CrisisMessage, settings: Settings) -> ChannelPreview:
    from crisiscast.channels.mqtt.adapt import adapt_mqtt
    from crisiscast.channels.preview import DocumentPreview

    return DocumentPreview(adapt_mqtt(message, settings.policy))


def _targets(config: MqttConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    if config.exercise_topic_prefix is None:
        return ()
    return [
        ExerciseTarget(
            "MQTT topic prefix",
            "exercise_topic_prefix",
            config.topic_prefix,
            config.exercise_topic_prefix,
            topic_prefix_identity(config.topic_prefix),
            topic_prefix_identity(config.exercise_topic_prefix),
        )
    ]


def _probe(config: MqttConfig, secrets: Secrets) -> HealthProbe:
    from crisiscast.channels.mqtt.probe import mqtt_probe

    return mqtt_probe(config, secrets)


SPEC: ChannelSpec[MqttConfig] = ChannelSpec(
    name=NAME,
    title="MQTT signage",
    public=True,
    config_model=MqttConfig,
    build=lazy_build("crisiscast.channels.mqtt.channel"),
    preview=_preview,
    secret_names=(f"{NAME}_password",),
    exercise_targets=_targets,
    probe=_probe,
)
