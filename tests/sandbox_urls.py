"""Point a raw configuration at running sandbox fakes, for every channel that declares one."""

from __future__ import annotations

from typing import Any

from crisiscast.sandbox.runner import Sandbox, fake_roles


def point_at_sandbox(channels: dict[str, Any], sandbox: Sandbox) -> None:
    """Set each channel's provider URL (its fakes' ``url_field``) to the running fake's URL."""
    roles = fake_roles()
    for role, url in sandbox.urls.items():
        spec, fake = roles[role]
        channels.setdefault(spec.name, {})[fake.url_field] = url


TEST_MIN_REQUESTS_PER_S = 50.0


def lift_pacing(channels: dict[str, Any]) -> None:
    """Lift every paced channel to at least ``TEST_MIN_REQUESTS_PER_S``, whether its pace is
    written in the configuration or is its section's default (Bluesky's 1/s is not in the shipped
    file). Pacing has its own tests (bench/rate.py, tests/dispatch); elsewhere a thread or a
    two-language post must not wait a second per part."""
    from crisiscast.channels.registry import spec_for

    for name, section in channels.items():
        if not isinstance(section, dict):
            continue
        rate = section.get(
            "max_requests_per_s", spec_for(name).config_model.model_fields["max_requests_per_s"].default
        )
        if rate is not None:
            section["max_requests_per_s"] = max(float(rate), TEST_MIN_REQUESTS_PER_S)
