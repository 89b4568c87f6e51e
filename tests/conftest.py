"""Shared fixtures: service addresses from the environment, and the CI rule.

Service-backed tests read their address from the environment (defaults: this machine's
services). When ``CI=true`` an unreachable service fails the test; elsewhere it skips.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("CRISISCAST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_URL = os.environ.get("CRISISCAST_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> str:
    """Return ``url`` if the service answers; fail on CI, skip elsewhere."""
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (on CI an unreachable service is a failure)")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> str:
    return require_service("PostgreSQL", POSTGRES_URL, 5432)


@pytest.fixture
def mqtt_url() -> str:
    return require_service("Mosquitto", MQTT_URL, 1883)
