"""Channel tests take their secrets from the test, never from the machine's environment."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_ambient_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop every CRISISCAST_* (and the Twilio SDK's TWILIO_*) variable for each channel test."""
    for name in list(os.environ):
        if name.startswith(("CRISISCAST_", "TWILIO_")):
            monkeypatch.delenv(name)
