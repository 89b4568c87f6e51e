"""The crisiscast HTTP server: one aiohttp application for intake, status, receipts and feeds.

``build_app(settings, secrets, store, dispatcher)`` wires every route:

- ``POST /v1/alerts`` — signed webhook intake (``intake``);
- ``GET /v1/dispatches/{id}`` — dispatch status, any API token (``status_api``, ``auth``);
- ``POST /v1/drafts/{id}/approvals``, ``/v1/drafts/{id}/send``, ``/v1/dispatches/{id}/update``,
  ``/v1/dispatches/{id}/cancel`` — the lifecycle, a person's API token (``lifecycle_api``);
- ``/console`` — the web console for people (``crisiscast.console``), same services as the API;
- ``GET /healthz``, ``GET /metrics``, ``GET /openapi.json`` (``health``), with each channel's
  health check (``ChannelSpec.probe``: the signage broker);
- each channel's own routes (``ChannelSpec.routes``): Twilio delivery receipts
  ``POST /v1/twilio/status`` (SMS), the banner feed, script and sample page (banner).

The store is opened and closed by the caller (``crisiscast serve``), which owns it.
Shutdown is graceful: aiohttp stops accepting connections and lets running requests end;
then the app's ``on_shutdown`` drains background dispatches for up to ``grace_s`` and
cancels what remains, leaving those deliveries resumable in the audit store.

Raises ``ConfigError`` for a malformed webhook secret or API token entry, or an invalid template file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

import structlog
from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.channels import session_pool
from crisiscast.channels.registry import ChannelsFactory, build_channels, specs
from crisiscast.channels.spec import RouteDeps
from crisiscast.config import Secrets, Settings
from crisiscast.console import add_console
from crisiscast.delivery import DeliveryState
from crisiscast.server.auth import parse_api_tokens
from crisiscast.server.context import CONTEXT, HealthProbe, ServerContext
from crisiscast.server.drafts_api import add_draft_routes
from crisiscast.server.health import add_health_routes, store_probe
from crisiscast.server.intake import add_intake_routes
from crisiscast.server.lifecycle_api import add_lifecycle_routes
from crisiscast.server.metrics import ServerMetrics
from crisiscast.server.progress import add_progress_routes
from crisiscast.server.runner import DispatcherLike, DispatchRunner
from crisiscast.server.status_api import add_status_routes
from crisiscast.server.webhook import WebhookVerifier, parse_secrets
from crisiscast.templates import TemplateCatalog, load_templates

__all__ = ["DEFAULT_GRACE_S", "build_app"]

DEFAULT_GRACE_S = 20.0

log = structlog.get_logger(__name__)


def build_app(
    settings: Settings,
    secrets: Secrets,
    store: AuditStore,
    dispatcher: DispatcherLike,
    *,
    catalog: TemplateCatalog | None = None,
    channels_factory: ChannelsFactory = build_channels,
    probes: Mapping[str, HealthProbe] | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    receipt_wait_s: float = 5.0,
    on_planned: Callable[[str], None] | None = None,
    console: bool = True,
) -> web.Application:
    """The application (not yet running). ``probes`` replaces the default health checks;
    ``console=False`` leaves the web console out (the intake benchmark compares both)."""
    metrics = ServerMetrics()
    app = web.Application(client_max_size=settings.server.body_max_bytes)
    on_delivered: dict[str, Callable[[], None]] = {}  # per channel, from its routes

    def on_progress(channel: str, key: str, state: DeliveryState) -> None:
        hook = on_delivered.get(channel)
        if hook is not None and state is DeliveryState.DELIVERED:
            hook()

    runner = DispatchRunner(
        settings,
        secrets,
        dispatcher,
        metrics,
        channels_factory=channels_factory,
        on_progress=on_progress,
        on_planned=on_planned,
    )
    if probes is None:
        probes = {"store": store_probe(store)}
        for spec in specs():
            if spec.probe is not None and spec.enabled(settings):
                probes[spec.name] = spec.probe(spec.config(settings), secrets)
    ctx = ServerContext(
        settings=settings,
        secrets=secrets,
        store=store,
        runner=runner,
        catalog=catalog
        if catalog is not None
        else load_templates(settings.resolve(settings.templates_dir), settings.preflight),
        verifier=WebhookVerifier(
            parse_secrets(secrets.webhook_secrets), tolerance_s=settings.server.webhook_tolerance_s
        ),
        metrics=metrics,
        api_tokens=parse_api_tokens(secrets.api_tokens),
        probes=dict(probes),
    )
    app[CONTEXT] = ctx
    for skip in ctx.catalog.skipped:
        log.warning("template_skipped", file=skip.source, reason=skip.reason)
    add_intake_routes(app)
    add_status_routes(app)
    add_progress_routes(app)
    add_health_routes(app)
    add_lifecycle_routes(app)
    add_draft_routes(app)
    if console:
        add_console(app)
    for spec in specs():
        if spec.routes is None:
            continue
        deps = RouteDeps(
            settings, secrets, store, _counter(metrics, spec.name), receipt_wait_s=receipt_wait_s
        )
        hooks = spec.routes(app, deps)
        if hooks.on_delivered is not None:
            on_delivered[spec.name] = hooks.on_delivered

    async def drain(_app: web.Application) -> None:
        await runner.drain(grace_s)

    async def warm_up(_app: web.Application) -> None:
        warm_up_channels(settings)
        session_pool.install()  # provider connections stay warm from one dispatch to the next

    async def close_sessions(_app: web.Application) -> None:
        await session_pool.uninstall()

    app.on_startup.append(warm_up)
    app.on_shutdown.append(drain)
    app.on_cleanup.append(close_sessions)
    return app


def warm_up_channels(settings: Settings) -> None:
    """Import the enabled channels' modules (their SDKs) at start-up and run their ``warm_up()``
    when they have one (X compiles its text engine), so the first webhook after a start does
    not pay for them (≈ 0.15 s otherwise)."""
    for spec in specs():
        module = getattr(spec.build, "module", None)
        if isinstance(module, str) and spec.enabled(settings):
            warm = getattr(importlib.import_module(module), "warm_up", None)
            if callable(warm):
                warm()


def _counter(metrics: ServerMetrics, channel: str) -> Callable[[str], None]:
    """``count(result)`` for ``channel``'s provider callbacks."""

    def count(result: str) -> None:
        metrics.provider_callbacks.labels(channel=channel, result=result).inc()

    return count
