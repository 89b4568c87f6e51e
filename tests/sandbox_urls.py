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
