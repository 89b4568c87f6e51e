"""What every route of one server shares, stored on the app under ``CONTEXT``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from crisiscast.audit.base import AuditStore
from crisiscast.config import Secrets, Settings
from crisiscast.server.metrics import ServerMetrics
from crisiscast.server.refusals import FailedAuth
from crisiscast.server.runner import DispatchRunner
from crisiscast.server.webhook import WebhookVerifier
from crisiscast.templates import TemplateCatalog

if TYPE_CHECKING:
    from crisiscast.server.auth import ApiTokens

__all__ = ["CONTEXT", "HealthProbe", "ServerContext", "error_response"]

# A named dependency check for /healthz: returns None when healthy, else a plain reason.
HealthProbe = Callable[[], Awaitable[str | None]]


@dataclass(slots=True)
class ServerContext:
    settings: Settings
    secrets: Secrets
    store: AuditStore
    runner: DispatchRunner
    catalog: TemplateCatalog
    verifier: WebhookVerifier
    metrics: ServerMetrics
    api_tokens: ApiTokens  # digests and names, parsed once (crisiscast.server.auth)
    probes: dict[str, HealthProbe] = field(default_factory=dict)
    auth_failures: FailedAuth = field(default_factory=FailedAuth)  # per peer (server.refusals)

    def status_url(self, dispatch_id: str) -> str:
        path = f"/v1/dispatches/{dispatch_id}"
        base = self.settings.server.public_url
        return base.rstrip("/") + path if base else path


CONTEXT = web.AppKey("crisiscast_context", ServerContext)


def error_response(status: int, sentence: str, **headers: str) -> web.Response:
    """A JSON error body: ``{"error": one plain sentence}``."""
    return web.json_response({"error": sentence}, status=status, headers=headers or None)
