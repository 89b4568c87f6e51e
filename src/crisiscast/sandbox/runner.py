"""Start the whole sandbox — every channel's provider fake — on 127.0.0.1, and point a config at it.

``start_sandbox(settings)`` starts one fake per provider account the registered channels
declare (``ChannelSpec.fakes``): X (production and, when configured, the exercise account),
the Graph API (both pages), Twilio, and any channel added since. With
``use_configured_ports`` each fake listens on the port of the configured base URL
(``crisiscast sandbox``: the shipped config already points there); otherwise on free ports
(tests, the demo). ``Sandbox.env`` holds the CRISISCAST_* secrets the fakes accept, and
``Sandbox.settings_for(settings)`` returns the configuration with every provider URL pointing
at the running fakes.

Failure modes: a configured port already in use → ``ConfigError`` naming the port (another
sandbox is probably running); a fake module missing from this installation → ``ConfigError``.
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crisiscast.channels.spec import ChannelSpec, FakeRole
from crisiscast.config import Secrets, Settings, channel_secret_names
from crisiscast.errors import ConfigError
from crisiscast.sandbox.common import FakeProvider

__all__ = ["Sandbox", "fake_roles", "secrets_from_env", "start_sandbox"]



def fake_roles() -> dict[str, tuple[ChannelSpec[Any], FakeRole]]:
    """Every sandbox fake the registered channels declare, by role (``"x"``, ``"twilio"`` …)."""
    from crisiscast.channels.registry import specs

    return {role.role: (spec, role) for spec in specs() for role in spec.fakes}


_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(slots=True)
class Sandbox:
    """Running fakes: ``fakes[role]``, ``urls[role]`` and the secrets they accept (``env``)."""

    fakes: dict[str, FakeProvider] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # role -> why it is not running

    def secrets(self) -> Secrets:
        """The fakes' credentials as ``Secrets``; the real environment is never read."""
        return secrets_from_env(self.env)

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` with every provider base URL pointing at the running fakes."""
        channels = settings.channels
        roles = fake_roles()
        updates: dict[str, dict[str, Any]] = {}
        for role, url in self.urls.items():
            spec, fake = roles[role]
            updates.setdefault(spec.name, {})[fake.url_field] = url
        new_channels = channels.model_copy(
            update={
                name: channels.section(name).model_copy(update=values) for name, values in updates.items()
            }
        )
        return settings.model_copy(update={"channels": new_channels})

    async def stop(self) -> None:
        """Stop every fake; safe to call twice."""
        for fake in self.fakes.values():
            await fake.stop()


def secrets_from_env(env: Mapping[str, str]) -> Secrets:
    """``Secrets`` holding exactly the ``CRISISCAST_*`` values in ``env`` (nothing from os.environ)."""
    wanted = {*Secrets.model_fields, *channel_secret_names()}
    values: dict[str, Any] = {
        name.removeprefix("CRISISCAST_").lower(): value
        for name, value in env.items()
        if name.removeprefix("CRISISCAST_").lower() in wanted
    }
    return Secrets(_env_prefix="CRISISCAST_SANDBOX_ONLY_", **values)


def _wanted_roles(settings: Settings) -> list[str]:
    """The fakes the configuration needs: every channel's, the drill accounts' where configured."""
    return [
        role
        for role, (spec, fake) in fake_roles().items()
        if not fake.exercise or getattr(spec.config(settings), fake.url_field, None)
    ]


def _configured_port(settings: Settings, role: str) -> int:
    spec, fake = fake_roles()[role]
    url = getattr(spec.config(settings), fake.url_field) or ""
    parts = urlsplit(url)
    if parts.hostname not in _LOCAL_HOSTS or parts.port is None:
        raise ConfigError(
            f"The configured {spec.name} URL {url or '(none)'} is not a local address with a port, so the "
            "sandbox cannot serve it; point it at http://127.0.0.1:PORT or use the default configuration."
        )
    return parts.port


class _FakeMissing(ConfigError):
    """A fake provider module is not installed."""


def _make_fake(role: str) -> tuple[FakeProvider, dict[str, str]]:
    _, role_spec = fake_roles()[role]
    module_name, _, class_name = role_spec.factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise _FakeMissing(f"the sandbox fake {module_name} is not available in this installation") from None
    cls = getattr(module, class_name)
    exercise = role_spec.exercise
    fake: FakeProvider = cls(exercise=True) if exercise else cls()
    env_fn = getattr(module, "sandbox_env", None)
    env: dict[str, str] = {}
    if env_fn is not None:
        env = dict(env_fn(exercise=True) if exercise else env_fn())
    return fake, env


async def start_sandbox(
    settings: Settings,
    *,
    use_configured_ports: bool = False,
    host: str = "127.0.0.1",
    roles: Sequence[str] | None = None,
    missing_ok: bool = False,
) -> Sandbox:
    """Start the fakes the configuration needs (or only ``roles``); on any failure the ones
    started are stopped again. With ``missing_ok`` a fake missing from this installation is
    recorded in ``Sandbox.missing`` instead of raising."""
    sandbox = Sandbox()
    try:
        for role in roles if roles is not None else _wanted_roles(settings):
            port = _configured_port(settings, role) if use_configured_ports else 0
            try:
                fake, env = _make_fake(role)
            except _FakeMissing as exc:
                if not missing_ok:
                    raise
                sandbox.missing[role] = str(exc)
                continue
            try:
                url = await fake.start(host, port)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ConfigError(
                        f"Port {port} on {host} is already in use, so the {role} fake cannot start; "
                        "stop the other sandbox (or whatever uses the port) and try again."
                    ) from None
                raise
            sandbox.fakes[role] = fake
            sandbox.urls[role] = url
            sandbox.env.update(env)
    except BaseException:
        await sandbox.stop()
        raise
    return sandbox
